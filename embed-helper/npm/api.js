// The helper's API: `EmbanEmbed` (what hosts use, around the wasm core in embed_helper.js),
// `EmbanError` and `load()`, which instantiates the wasm once for every mount. This module
// touches no browser API when imported: the package entry (index.js) calls `load()` at import
// in a browser; the React entry (react.js) imports this module lazily, on the first mount, so
// server rendering and bundlers' server builds never run it. The wasm's fetch starts before the
// JS glue is requested, so the two download in parallel.

let core;
let loading;

/** Instantiates the helper's wasm once (every later call returns the same promise). */
export function load() {
  return (loading ??= (async () => {
    const wasm = fetch(new URL('./embed_helper_bg.wasm', import.meta.url));
    const glue = await import('./embed_helper.js');
    await glue.default({ module_or_path: wasm });
    core = glue;
    return EmbanEmbed;
  })());
}

const EVENTS = ['ready', 'resize', 'filter', 'period-change', 'drill', 'error', 'theme', 'export', 'session-swapped', 'session-expiring'];
// Error codes after which the session cannot become ready without a new signed URL.
const FATAL = ['session_expired', 'not_published', 'load_failed'];
const noop = () => {};
let ids = 0;

/** Why a promise of the helper was rejected: the runtime's `error` event, a timeout or `destroy()`. */
export class EmbanError extends Error {
  constructor(message, code, event) {
    super(message);
    this.name = 'EmbanError';
    this.code = code;
    this.recoverable = event ? event.recoverable !== false : false;
    this.event = event;
  }
}

const fromEvent = (e) => new EmbanError(e.message, e.code || 'error', e);

/** A promise whose rejection nobody has to handle (the `error` event reports it as well). */
function deferred() {
  let settle;
  const promise = new Promise((resolve, reject) => (settle = [resolve, reject]));
  promise.catch(noop);
  return [promise, settle];
}

export class EmbanEmbed {
  #core;
  #on = [];
  #pending = new Map();
  #waits = new Set();
  #gen = 0;
  #ready;
  #timer;
  #observer;
  #dead = false;

  /**
   * Mounts the signed embed URL in a new iframe inside `container` (an element or a CSS
   * selector). The embed stays alive until `destroy()` or until its iframe leaves the document,
   * whether or not the returned object is kept.
   */
  static mount(container, options) {
    if (!core) throw new Error('EmbanEmbed.mount needs a browser: import the package in one, or await load() first');
    return new EmbanEmbed(container, options);
  }

  /** Instantiates the wasm (once); resolves with `EmbanEmbed`. */
  static load() {
    return load();
  }

  constructor(container, options) {
    const fetchUrl = options && options.fetchEmbedUrl;
    if (typeof fetchUrl === 'function') {
      // A fresh URL starts a swap: requests the old session did not answer are sent again.
      options = { ...options, fetchEmbedUrl: async () => { const url = await fetchUrl(); this.#gen++; return url; } };
    }
    const embed = (this.#core = core.EmbanEmbed.mount(container, options));
    const [ready, settle] = deferred();
    this.#ready = settle;
    /** Resolves with the first `ready` event; rejects with an `EmbanError` on a fatal `error`, a timeout or `destroy()`. */
    this.ready = ready;
    for (const type of EVENTS) embed.on(type, (e) => this.#event(type, e));
    const timeout = options.readyTimeout ?? 30000;
    this.#timer = setTimeout(
      () => this.#fail(new EmbanError(`EmbanEmbed: the embed did not become ready within ${timeout} ms`, 'timeout')),
      timeout,
    );
    const iframe = embed.iframe;
    let seen = iframe.isConnected;
    this.#observer = new MutationObserver(() => {
      if (iframe.isConnected) seen = true;
      else if (seen) this.destroy();
    });
    this.#observer.observe(iframe.ownerDocument, { childList: true, subtree: true });
  }

  /** The iframe this embed owns (the same element across `setEmbedUrl`). */
  get iframe() {
    return this.#core.iframe;
  }

  /** The origin commands are posted to and events accepted from. */
  get origin() {
    return this.#core.origin;
  }

  #live(method) {
    if (this.#dead) throw new Error(`EmbanEmbed: ${method}() called after destroy(); mount a new embed instead`);
    return this.#core;
  }

  #event(type, e) {
    const request = e.requestId && this.#pending.get(e.requestId);
    if (request && (type === 'filter' || type === 'theme' || type === 'error')) {
      this.#pending.delete(e.requestId);
      request.settle[type === 'error' ? 1 : 0](type === 'error' ? fromEvent(e) : e);
    }
    if (type === 'ready') this.#settleReady(0, e);
    if (type === 'error' && FATAL.includes(e.code)) this.#fail(fromEvent(e));
    if (type === 'session-swapped') {
      for (const [, r] of this.#pending) if (r.gen < this.#gen) this.#send(r);
      for (const w of this.#waits) if (w.swap) w.settle[0](e);
    }
    for (const [t, fn] of this.#on.slice()) {
      if (t !== type) continue;
      try {
        fn(e);
      } catch (err) {
        console.error(`EmbanEmbed: a "${type}" listener threw`, err);
      }
    }
  }

  #settleReady(which, value) {
    clearTimeout(this.#timer);
    const settle = this.#ready;
    this.#ready = null;
    if (settle) settle[which](value);
  }

  /** A fatal error: `ready` (if still waiting), swaps and every unanswered request reject. */
  #fail(error) {
    this.#settleReady(1, error);
    for (const w of this.#waits) if (w.swap) w.settle[1](error);
    for (const [, r] of this.#pending) r.settle[1](error);
    this.#pending.clear();
  }

  #send(r) {
    r.gen = this.#gen;
    this.#core[r.method](...r.args, r.id);
  }

  /** Sends a command with a request id; resolves with the runtime's answer. */
  #request(method, args) {
    this.#live(method);
    const r = { method, args, id: `emban-${++ids}` };
    this.#send(r); // throws on a bad payload, before anything is pending
    const [promise, settle] = deferred();
    r.settle = settle;
    this.#pending.set(r.id, r);
    return promise;
  }

  #wait(swap, setup) {
    const [promise, settle] = deferred();
    const w = { swap, settle };
    this.#waits.add(w);
    if (setup) setup(w);
    const done = () => this.#waits.delete(w);
    promise.then(done, done);
    return promise;
  }

  /** Changes the period and filters; resolves with the `filter` event that answers it. */
  setFilters(filters) {
    return this.#request('setFilters', [filters]);
  }

  /** Applies theme tokens; resolves with the `theme` event (every token in effect). */
  setTheme(theme) {
    return this.#request('setTheme', [theme]);
  }

  /** Refetches the dashboard and its data with the same session; resolves with the `filter` after it. */
  reload() {
    return this.#request('reload', []);
  }

  /** Swaps in a freshly signed URL in the same iframe; resolves with `session-swapped`. */
  setEmbedUrl(url) {
    this.#live('setEmbedUrl').setEmbedUrl(url);
    this.#gen++;
    return this.#wait(true);
  }

  /** Changes the iframe's least height (CSS pixels). */
  setMinHeight(minHeight) {
    this.#live('setMinHeight').setMinHeight(minHeight);
  }

  /** The last state the runtime reported (`{period, filters, numericRanges, dateRanges}`), or `null`. */
  getState() {
    return this.#core.getState();
  }

  /** Calls `callback(event)` for every event of `type`; returns a function that unsubscribes. */
  on(type, callback) {
    this.#live('on');
    if (!EVENTS.includes(type)) throw new Error(`EmbanEmbed: unknown event "${type}"; expected one of ${EVENTS.join(', ')}`);
    if (typeof callback !== 'function') throw new Error(`EmbanEmbed: on("${type}", callback) needs a function`);
    const entry = [type, callback];
    this.#on.push(entry);
    return () => {
      this.#on = this.#on.filter((x) => x !== entry);
    };
  }

  /** Removes `callback` from `type` (every callback of `type` when none is given). */
  off(type, callback) {
    this.#live('off');
    if (!EVENTS.includes(type)) throw new Error(`EmbanEmbed: unknown event "${type}"; expected one of ${EVENTS.join(', ')}`);
    this.#on = this.#on.filter(([t, fn]) => t !== type || (callback && fn !== callback));
  }

  /** Resolves with the next event of `type`; rejects if the embed is destroyed first. */
  once(type) {
    let wait;
    const off = this.on(type, (e) => {
      off();
      wait.settle[0](e);
    });
    return this.#wait(false, (w) => (wait = w));
  }

  /** Removes the iframe and every listener; pending promises reject; later calls throw. */
  destroy() {
    if (this.#dead) return;
    this.#dead = true;
    this.#observer.disconnect();
    this.#core.destroy();
    const error = new EmbanError('EmbanEmbed: destroyed', 'destroyed');
    this.#fail(error);
    for (const w of this.#waits) w.settle[1](error);
    this.#on = [];
  }
}
