// Loaded with `node --import` before the guide's snippet (snippet.mjs, copied byte for byte from
// the guide). It maps the two things the guide names that cannot exist on a test server: its
// host (https://emban.sidelabs.dev → GUIDE_SERVER_URL) and its example dashboard id
// (dash_abc → GUIDE_DASHBOARD_ID). Nothing else of the request is touched.
const host = 'https://emban.sidelabs.dev';
const target = process.env.GUIDE_SERVER_URL;
const dashboard = process.env.GUIDE_DASHBOARD_ID;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => {
  let url = String(input);
  if (url.startsWith(host)) url = target + url.slice(host.length);
  if (typeof init.body === 'string' && url.endsWith('/v1/embed-sessions')) {
    init = { ...init, body: init.body.replace('"dashboard_id":"dash_abc"', `"dashboard_id":${JSON.stringify(dashboard)}`) };
  }
  return realFetch(url, init);
};
