/**
 * The inspector's two HTML documents — the login form and the page's shell — and the login
 * form's own tiny stylesheet and script. Everything else is in the bundle (page-bundle.ts).
 * No inline script or style anywhere: the Content-Security-Policy allows only this origin's.
 */

/** Same origin only, no inline code, no framing, forms post only here. */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function loginDocument(nodeId: string, error: string | null): string {
  const message = error
    ? `<p class="error" role="alert">${escapeHtml(error)}</p>`
    : `<p class="hint">The cluster's join token: <code>token</code> in the run dir's
       <code>cluster.json</code>, or run <code>bosun ui</code>.</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bosun inspector — sign in</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/login.css">
<script src="/ui/login.js" defer></script>
</head><body>
<form class="login" method="post" action="/ui/login" autocomplete="off">
  <h1><span class="mark">⎈</span> bosun inspector</h1>
  <p class="node">served by ${escapeHtml(nodeId)}</p>
  <label for="token">Cluster token</label>
  <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
  ${message}
  <button type="submit">Sign in</button>
</form>
</body></html>
`;
}

export const LOGIN_CSS = `
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f4f5f7;
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2430}
.login{background:#fff;padding:32px 36px;border-radius:10px;box-shadow:0 4px 24px #0001;
  width:min(380px,90vw);display:flex;flex-direction:column;gap:10px}
h1{font-size:20px;margin:0}.mark{color:#2f6fdf}.node{margin:0 0 8px;color:#6b7280;font-size:13px}
label{font-weight:600;font-size:13px}
input{font:inherit;padding:8px 10px;border:1px solid #cfd4dc;border-radius:6px}
input:focus{outline:2px solid #2f6fdf55;border-color:#2f6fdf}
button{font:inherit;font-weight:600;padding:9px;border:0;border-radius:6px;background:#2f6fdf;
  color:#fff;cursor:pointer}button:hover{background:#2559b8}
.hint{color:#6b7280;font-size:12.5px;margin:0}.error{color:#b42318;font-size:13px;margin:0}
code{background:#f0f1f4;padding:0 4px;border-radius:3px}
`;

/**
 * `bosun ui` prints `…/ui/login#token=…`: the fragment never leaves the browser; this posts it
 * through the form once (and takes it out of the address bar and history).
 */
export const LOGIN_JS = `
(function(){var m=/[#&]token=([^&]+)/.exec(location.hash);if(!m)return;
history.replaceState(null,"",location.pathname);
document.addEventListener("DOMContentLoaded",function(){var f=document.querySelector("form");
f.querySelector("input[name=token]").value=decodeURIComponent(m[1]);f.submit();});})();
`;

export function shellDocument(nodeId: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bosun inspector — ${escapeHtml(nodeId)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head><body><div id="app" data-node="${escapeHtml(nodeId)}"></div></body></html>
`;
}
