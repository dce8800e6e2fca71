/**
 * The approval console: one static page, no framework, no build step. All
 * data from the API is put into the page with textContent (never innerHTML),
 * and the script runs only with the per-response nonce (see the CSP).
 */
export function consolePage(nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keel approvals</title>
<style nonce="${nonce}">
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1d2330; }
  header { background: #1d2330; color: #fff; padding: 10px 20px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  main { max-width: 960px; margin: 0 auto; padding: 16px; }
  input, select, button { font: inherit; padding: 4px 8px; }
  .error { background: #fde8e8; color: #8a1c1c; border: 1px solid #f5b5b5; padding: 8px 12px; margin-bottom: 12px; white-space: pre-wrap; }
  .hidden { display: none; }
  .gate { background: #fff; border: 1px solid #d8dce3; border-radius: 6px; padding: 12px 16px; margin-bottom: 12px; }
  .gate.focus { border-color: #2d6cdf; box-shadow: 0 0 0 2px #c9dafa; }
  .gate h2 { font-size: 15px; margin: 0 0 6px; }
  .meta { color: #5b6475; font-size: 12px; margin-bottom: 6px; }
  .badge { display: inline-block; font-size: 11px; padding: 1px 6px; border-radius: 8px; background: #e7ebf2; margin-left: 6px; vertical-align: middle; }
  .badge.approve { background: #fde2c4; } .badge.review { background: #dbeafe; }
  pre { background: #f1f3f6; padding: 8px; overflow: auto; max-height: 300px; margin: 6px 0; }
  .actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
  .actions input { flex: 1; min-width: 200px; }
  .approve-btn { background: #1f7a3d; color: #fff; border: 0; border-radius: 4px; }
  .reject-btn { background: #a32020; color: #fff; border: 0; border-radius: 4px; }
  .empty { color: #5b6475; }
</style>
</head>
<body>
<header>
  <h1>Keel approvals</h1>
  <form id="key-form">
    <input id="key" type="password" placeholder="API key (approver)" autocomplete="off" size="28">
    <button type="submit">Use key</button>
    <button type="button" id="forget">Forget</button>
  </form>
  <label>Status
    <select id="status">
      <option value="pending" selected>pending</option>
      <option value="approved">approved</option>
      <option value="rejected">rejected</option>
      <option value="reviewed">reviewed</option>
      <option value="">all</option>
    </select>
  </label>
  <button type="button" id="refresh">Refresh</button>
</header>
<main>
  <div id="error" class="error hidden" role="alert"></div>
  <div id="list"></div>
</main>
<script nonce="${nonce}">
(function () {
  'use strict';
  var KEY = 'keel.apiKey';
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = String(text);
    return e;
  };

  function showError(msg) { var e = $('error'); e.textContent = msg; e.classList.remove('hidden'); }
  function clearError() { var e = $('error'); e.textContent = ''; e.classList.add('hidden'); }

  function age(iso) {
    var s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }

  async function api(method, path, body, headers) {
    var key = sessionStorage.getItem(KEY);
    if (!key) throw new Error('Enter an API key first.');
    var h = Object.assign({ Authorization: 'Bearer ' + key }, headers || {});
    if (body !== undefined) h['Content-Type'] = 'application/json';
    var res = await fetch(path, { method: method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    var data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      var err = data && data.error ? data.error : { code: 'http_' + res.status, message: res.statusText };
      throw new Error(err.code + ': ' + err.message);
    }
    return data;
  }

  function render(items) {
    var list = $('list');
    list.replaceChildren();
    if (!items.length) { list.appendChild(el('p', 'empty', 'Nothing here.')); return; }
    var focus = location.hash.slice(1);
    items.forEach(function (g) {
      var card = el('section', 'gate' + (g.id === focus ? ' focus' : ''));
      card.id = g.id;
      var title = el('h2', null, g.tool);
      title.appendChild(el('span', 'badge ' + g.kind, g.kind === 'review' ? 'review' : 'needs approval'));
      title.appendChild(el('span', 'badge', 'tier ' + g.tier));
      if (g.status !== 'pending') title.appendChild(el('span', 'badge', g.status + (g.decidedBy ? ' by ' + g.decidedBy : '')));
      card.appendChild(title);
      card.appendChild(el('div', 'meta', 'task ' + g.taskId + ' · step ' + g.step + ' · call ' + g.index + ' · agent ' + g.agent + ' · ' + age(g.createdAt)));
      card.appendChild(el('div', null, g.reason));
      card.appendChild(el('pre', null, JSON.stringify(g.arguments, null, 2)));
      if (g.comment) card.appendChild(el('div', 'meta', 'comment: ' + g.comment));
      if (g.status === 'pending') {
        var actions = el('div', 'actions');
        var comment = el('input');
        comment.placeholder = 'comment (optional)';
        comment.maxLength = 10000;
        var ok = el('button', 'approve-btn', g.kind === 'review' ? 'Mark reviewed' : 'Approve');
        var no = el('button', 'reject-btn', g.kind === 'review' ? 'Object' : 'Reject');
        var act = function (decision) {
          return async function () {
            ok.disabled = no.disabled = true;
            clearError();
            try {
              var body = { decision: decision };
              if (comment.value.trim()) body.comment = comment.value.trim();
              // If-Match: the decision holds only for the arguments shown here.
              await api('POST', '/v1/approvals/' + encodeURIComponent(g.id) + '/decision', body, { 'If-Match': '"' + g.argsHash + '"' });
              await load();
            } catch (e) {
              showError(e.message);
              ok.disabled = no.disabled = false;
            }
          };
        };
        ok.addEventListener('click', act('approve'));
        no.addEventListener('click', act('reject'));
        actions.appendChild(comment);
        actions.appendChild(ok);
        actions.appendChild(no);
        card.appendChild(actions);
      }
      list.appendChild(card);
    });
  }

  async function load() {
    clearError();
    if (!sessionStorage.getItem(KEY)) { $('list').replaceChildren(el('p', 'empty', 'Enter an API key with the approver (or viewer) role.')); return; }
    var status = $('status').value;
    try {
      var data = await api('GET', '/v1/approvals' + (status ? '?status=' + encodeURIComponent(status) : ''));
      render(data.items);
    } catch (e) {
      showError(e.message);
    }
  }

  $('key-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var v = $('key').value.trim();
    if (v) sessionStorage.setItem(KEY, v);
    $('key').value = '';
    void load();
  });
  $('forget').addEventListener('click', function () { sessionStorage.removeItem(KEY); void load(); });
  $('status').addEventListener('change', function () { void load(); });
  $('refresh').addEventListener('click', function () { void load(); });
  void load();
})();
</script>
</body>
</html>
`;
}
