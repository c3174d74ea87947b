// The shell of a Layer Lens webview page: a Content-Security-Policy that admits nothing but the
// page's own nonce'd style and script (no remote or local resources at all), its title, its body.

/** Text for HTML, attribute values included. */
export function escapeAttr(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Text for HTML element content. */
export function escapeHtmlText(s: string): string {
  return s.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

/** A whole page: `body` is the body's markup before its script; `nonce` a fresh random value per page. */
export function webviewPage(p: { nonce: string; title: string; style: string; script: string; body: string }): string {
  const csp = `default-src 'none'; style-src 'nonce-${p.nonce}'; script-src 'nonce-${p.nonce}';`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtmlText(p.title)}</title>
<style nonce="${p.nonce}">${p.style}</style>
</head>
<body>
${p.body}
<script nonce="${p.nonce}">${p.script}</script>
</body>
</html>`;
}
