// Shared by the two demo pages: theme presets, the live log, and the demo session's URL.
export const THEMES = {
  light: { primaryColor: '#2563eb', backgroundColor: '#f8fafc', cardBackground: '#ffffff', cardBorder: '#e2e8f0', textColor: '#0f172a', mutedColor: '#64748b' },
  dark: { primaryColor: '#60a5fa', backgroundColor: '#0b1120', cardBackground: '#111827', cardBorder: '#1f2937', textColor: '#e5e7eb', mutedColor: '#9ca3af' },
  green: { primaryColor: '#0f9d58', backgroundColor: '#f7f9f7', cardBackground: '#ffffff', cardBorder: '#d8e2d9', textColor: '#101513', mutedColor: '#5d6c63' },
};

export function log(kind, label, payload) {
  const line = document.createElement('div');
  line.className = kind;
  const time = new Date().toISOString().slice(11, 23);
  line.textContent = `${time} ${label}${payload === undefined ? '' : ' ' + JSON.stringify(payload)}`;
  const pre = document.getElementById('log');
  pre.prepend(line);
}

/** A freshly signed demo session's embed_url. */
export async function demoUrl() {
  const response = await fetch('/v1/demo/embed-url');
  if (!response.ok) throw new Error(`GET /v1/demo/embed-url: ${response.status}`);
  return (await response.json()).embed_url;
}
