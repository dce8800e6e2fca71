/**
 * The approval console: one static page, no framework, no build step, nothing
 * loaded from elsewhere (the script and the style are inline and run only
 * with the per-response nonce; see the CSP in ConsoleController). All data
 * from the API is put into the page with textContent (never innerHTML).
 *
 * - the API key is asked for once and kept in sessionStorage; every call sends
 *   it as `Authorization: Bearer`;
 * - the pending count is live: `GET /v1/approvals/stream` (Server-Sent Events)
 *   read with fetch() and a stream reader, because EventSource cannot send the
 *   Authorization header; when the stream is down the page polls every 2 s
 *   until it is back;
 * - each gate shows the proposed call (tool, arguments, risk tier), the reason
 *   and, from `GET /v1/approvals/{id}/timeline`, the task's input, its recent
 *   events (steps, model calls with cost and confidence, guardrail verdicts,
 *   tool calls) and a trace link when the service knows the trace UI.
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
  header form { display: flex; gap: 6px; }
  main { max-width: 1040px; margin: 0 auto; padding: 16px; }
  input, select, button { font: inherit; padding: 4px 8px; }
  .count { background: #f0b429; color: #1d2330; border-radius: 10px; padding: 2px 10px; font-weight: 600; }
  .count.zero { background: #3b4456; color: #fff; }
  .live { font-size: 12px; color: #b8c0cf; }
  .live.on::before { content: ""; display: inline-block; width: 8px; height: 8px; border-radius: 4px; background: #37c45c; margin-right: 5px; }
  .error { background: #fde8e8; color: #8a1c1c; border: 1px solid #f5b5b5; padding: 8px 12px; margin-bottom: 12px; white-space: pre-wrap; }
  .hidden { display: none; }
  .gate { background: #fff; border: 1px solid #d8dce3; border-radius: 6px; padding: 12px 16px; margin-bottom: 12px; }
  .gate.focus { border-color: #2d6cdf; box-shadow: 0 0 0 2px #c9dafa; }
  .gate h2 { font-size: 15px; margin: 0 0 6px; }
  .meta { color: #5b6475; font-size: 12px; margin-bottom: 6px; }
  .label { font-size: 12px; font-weight: 600; color: #3b4456; margin-top: 8px; }
  .badge { display: inline-block; font-size: 11px; padding: 1px 6px; border-radius: 8px; background: #e7ebf2; margin-left: 6px; vertical-align: middle; font-weight: normal; }
  .badge.approve, .badge.risk-approve { background: #fde2c4; } .badge.review, .badge.risk-review { background: #dbeafe; }
  .badge.escalated { background: #f9d0e0; } .badge.expired, .badge.rejected { background: #f5d5d5; } .badge.withdrawn { background: #e4e4e4; } .badge.approved { background: #d3f0dc; }
  pre { background: #f1f3f6; padding: 8px; overflow: auto; max-height: 300px; margin: 4px 0; white-space: pre-wrap; word-break: break-word; }
  .actions { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin-top: 10px; }
  .actions input { flex: 1; min-width: 200px; }
  .approve-btn { background: #1f7a3d; color: #fff; border: 0; border-radius: 4px; }
  .reject-btn { background: #a32020; color: #fff; border: 0; border-radius: 4px; }
  .link-btn { background: none; border: 0; color: #2d6cdf; padding: 0; cursor: pointer; font-size: 12px; }
  .task { border-top: 1px solid #e3e6ec; margin-top: 10px; padding-top: 6px; }
  .timeline { width: 100%; border-collapse: collapse; font-size: 12px; }
  .timeline-wrap { max-height: 320px; overflow: auto; border: 1px solid #e3e6ec; border-radius: 4px; margin-top: 4px; }
  .timeline td { padding: 3px 6px; border-bottom: 1px solid #eef0f4; vertical-align: top; }
  .timeline td.t { color: #5b6475; white-space: nowrap; text-align: right; }
  .timeline td.k { white-space: nowrap; font-family: ui-monospace, monospace; }
  .ev-model { color: #6a3fb5; } .ev-tool { color: #1f5fa8; } .ev-guardrail { color: #8a5a00; } .ev-approval { color: #a85d00; } .ev-task { color: #1f7a3d; } .ev-bad { color: #a32020; }
  .empty { color: #5b6475; }
</style>
</head>
<body>
<header>
  <h1>Keel approvals</h1>
  <span id="pending-count" class="count zero" title="pending approvals (live)">– pending</span>
  <span id="live" class="live">offline</span>
  <form id="key-form">
    <input id="key" type="password" placeholder="API key (approver)" aria-label="API key" autocomplete="off" size="28">
    <button type="submit">Use key</button>
    <button type="button" id="forget">Forget</button>
  </form>
  <label>Status
    <select id="status">
      <option value="pending" selected>pending</option>
      <option value="approved">approved</option>
      <option value="rejected">rejected</option>
      <option value="reviewed">reviewed</option>
      <option value="expired">expired</option>
      <option value="withdrawn">withdrawn (task ended)</option>
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
  var AUTO_TIMELINES = 5; // the first pending gates load their task at once; the others on request
  var $ = function (id) { return document.getElementById(id); };
  var el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  };
  var cards = new Map();   // gate id -> { node, sig, timeline: function }
  var drafts = new Map();  // gate id -> the comment being typed (survives re-renders)
  var listVersion = null;

  function showError(msg) { var e = $('error'); e.textContent = msg; e.classList.remove('hidden'); }
  function clearError() { var e = $('error'); e.textContent = ''; e.classList.add('hidden'); }

  function age(iso) {
    var s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }
  function until(iso) {
    var s = Math.round((new Date(iso).getTime() - Date.now()) / 1000);
    if (s <= 0) return 'now';
    if (s < 60) return 'in ' + s + ' s';
    if (s < 3600) return 'in ' + Math.round(s / 60) + ' min';
    return 'in ' + Math.round(s / 3600) + ' h';
  }
  function usd(n) { return '$' + Number(n || 0).toFixed(6); }

  function authHeader() {
    var key = sessionStorage.getItem(KEY);
    if (!key) throw new Error('Enter an API key first.');
    return { Authorization: 'Bearer ' + key };
  }

  async function api(method, path, body, headers) {
    var h = Object.assign(authHeader(), headers || {});
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

  // ---- the pending count, live ----
  function setCount(n) {
    var c = $('pending-count');
    c.textContent = (n === null ? '–' : n) + ' pending';
    c.classList.toggle('zero', !n);
    document.title = (n ? '(' + n + ') ' : '') + 'Keel approvals';
  }
  function setLive(state) {
    var l = $('live');
    l.textContent = state;
    l.classList.toggle('on', state === 'live');
  }

  var stream = null;     // AbortController of the open stream
  var retryTimer = null;
  function stopLive() {
    if (stream) stream.abort();
    stream = null;
    clearTimeout(retryTimer);
    setLive('offline');
  }
  function onPending(s) {
    setCount(s.pending);
    if (s.version !== listVersion) {
      listVersion = s.version;
      var status = $('status').value;
      if (status === 'pending' || status === '') void load();
    }
  }
  // fetch() + a stream reader instead of EventSource: the Authorization header goes with it.
  async function startLive() {
    stopLive();
    if (!sessionStorage.getItem(KEY)) return;
    var ctl = new AbortController();
    stream = ctl;
    try {
      var res = await fetch('/v1/approvals/stream', { headers: Object.assign(authHeader(), { Accept: 'text/event-stream' }), signal: ctl.signal, cache: 'no-store' });
      if (res.status === 401 || res.status === 403) { setLive('not authorised'); return; }
      if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
      setLive('live');
      var reader = res.body.getReader();
      var decoder = new TextDecoder();
      var buf = '';
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buf += decoder.decode(chunk.value, { stream: true }).replace(/\\r\\n/g, '\\n');
        var at;
        while ((at = buf.indexOf('\\n\\n')) >= 0) {
          var frame = buf.slice(0, at);
          buf = buf.slice(at + 2);
          var event = 'message';
          var data = '';
          frame.split('\\n').forEach(function (line) {
            if (line.indexOf('event:') === 0) event = line.slice(6).trim();
            else if (line.indexOf('data:') === 0) data += line.slice(5).trim();
          });
          if (event === 'pending' && data) onPending(JSON.parse(data));
          if (event === 'unauthorized') { setLive('not authorised'); ctl.abort(); return; }
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (stream !== ctl) return;
    // The stream ended or failed: poll now and every 2 s until it is back.
    setLive('polling');
    void poll();
    retryTimer = setTimeout(startLive, 2000);
  }
  async function poll() {
    try {
      var data = await api('GET', '/v1/approvals?status=pending');
      setCount(data.items.length);
      var status = $('status').value;
      if (status === 'pending') render(data.items);
    } catch (e) { /* shown by the next load */ }
  }

  // ---- the task timeline ----
  function kindOf(type) {
    if (/failed|blocked|rejected|timed_out|cancelled|expired|unknown/.test(type)) return 'ev-bad';
    if (type.indexOf('model.') === 0) return 'ev-model';
    if (type.indexOf('tool.') === 0) return 'ev-tool';
    if (type.indexOf('guardrail.') === 0) return 'ev-guardrail';
    if (type.indexOf('approval.') === 0) return 'ev-approval';
    if (type.indexOf('task.') === 0) return 'ev-task';
    return '';
  }
  function summary(e) {
    var d = e.data || {};
    switch (e.type) {
      case 'step.started': return 'step ' + d.step + (d.reason ? ' (' + d.reason + ')' : '');
      case 'step.completed': return 'step ' + (d.step !== undefined ? d.step : '');
      case 'model.completed': {
        var u = d.usage || {};
        var calls = d.toolCalls && d.toolCalls.length ? ' · proposes ' + d.toolCalls.join(', ') : ' · answer';
        return (d.model || 'model') + calls + ' · ' + (u.inputTokens || 0) + ' in / ' + (u.outputTokens || 0) + ' out tokens · ' + usd(d.costUsd) +
          (typeof d.confidence === 'number' ? ' · confidence ' + d.confidence : '') + (d.cache && d.cache.kind ? ' · cache ' + d.cache.kind : '');
      }
      case 'model.retry': return 'retry: ' + JSON.stringify(d.error || d);
      case 'guardrail.screened': return d.channel + ': ' + d.verdict + (d.categories && d.categories.length ? ' (' + d.categories.join(', ') + ')' : '') + (typeof d.score === 'number' ? ' · score ' + d.score : '');
      case 'approval.requested': return d.tool + ' · risk ' + d.tier + ' · ' + (d.reason || '');
      case 'tool.completed': return d.tool + ' · ' + (d.ok ? 'ok' : 'failed' + (d.error && d.error.code ? ' (' + d.error.code + ')' : '')) + (d.durationMs !== undefined ? ' · ' + d.durationMs + ' ms' : '') +
        (d.guardrail ? ' · output ' + d.guardrail.verdict : '');
      case 'tool.rejected': return d.tool + ' rejected' + (d.comment ? ': ' + d.comment : '');
      case 'task.succeeded': return 'succeeded';
      case 'task.failed': return d.error ? d.error.code + ': ' + d.error.message : 'failed';
      default: {
        var s = JSON.stringify(d);
        return s.length > 300 ? s.slice(0, 300) + '…' : s;
      }
    }
  }
  function renderTimeline(box, g, t, confidence) {
    box.replaceChildren();
    var task = t.task;
    var head = el('div', 'meta', 'task ' + task.status + ' · agent ' + task.agent + ' · ' + task.steps + ' steps · ' +
      task.usage.inputTokens + ' in / ' + task.usage.outputTokens + ' out tokens · ' + usd(task.usage.costUsd) + ' so far');
    if (t.traceUrl && /^https?:\\/\\//.test(t.traceUrl)) {
      head.appendChild(document.createTextNode(' · '));
      var a = el('a', 'trace-link', 'trace ' + task.traceId.slice(0, 8) + '…');
      a.href = t.traceUrl;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      head.appendChild(a);
    } else if (task.traceId) {
      head.appendChild(document.createTextNode(' · trace ' + task.traceId));
    }
    box.appendChild(head);
    box.appendChild(el('div', 'label', 'Task input'));
    var input = task.input.length > 4000 ? task.input.slice(0, 4000) + '\\n… (' + task.input.length + ' characters)' : task.input;
    box.appendChild(el('pre', 'task-input', input));
    box.appendChild(el('div', 'label', 'Timeline' + (t.truncated ? ' (newest ' + t.events.length + ' events)' : '')));
    var wrap = el('div', 'timeline-wrap');
    var table = el('table', 'timeline');
    var start = t.events.length ? new Date(t.events[0].at).getTime() : 0;
    var step = 0;
    t.events.forEach(function (e) {
      if (e.type === 'step.started') step = e.data.step;
      if (e.type === 'model.completed' && step === g.step && typeof e.data.confidence === 'number') confidence(e.data.confidence);
      var tr = el('tr');
      var ms = new Date(e.at).getTime() - start;
      tr.appendChild(el('td', 't', ms < 1000 ? '+' + ms + ' ms' : '+' + (ms / 1000).toFixed(1) + ' s'));
      tr.appendChild(el('td', 'k ' + kindOf(e.type), e.type));
      tr.appendChild(el('td', null, summary(e)));
      table.appendChild(tr);
    });
    wrap.appendChild(table);
    box.appendChild(wrap);
  }

  // ---- the list ----
  function signature(g) { return JSON.stringify(g); }
  function buildCard(g, focus, autoTimeline) {
    var card = el('section', 'gate' + (g.id === focus ? ' focus' : ''));
    card.id = g.id;
    // keel.input_review: a user input the guardrail escalated (agent guardrail.onEscalate: review), not a tool call.
    var inputReview = g.tool === 'keel.input_review' && g.arguments && typeof g.arguments.input === 'string';
    var title = el('h2', 'tool', inputReview ? 'Escalated user input' : g.tool);
    title.appendChild(el('span', 'badge ' + g.kind, g.kind === 'review' ? 'review' : 'needs approval'));
    title.appendChild(el('span', 'badge risk-' + g.tier, 'risk ' + g.tier));
    if (g.status !== 'pending') title.appendChild(el('span', 'badge ' + g.status, g.status + (g.decidedBy ? ' by ' + g.decidedBy : '')));
    if (g.escalationLevel > 0) title.appendChild(el('span', 'badge escalated', 'escalated' + (g.assignedGroup ? ' to ' + g.assignedGroup : ' (level ' + g.escalationLevel + ')')));
    card.appendChild(title);
    var meta = el('div', 'meta', 'task ' + g.taskId + ' · step ' + g.step + ' · call ' + g.index + ' · agent ' + g.agent + ' · ' + age(g.createdAt) +
      (g.status === 'pending' && g.expiresAt ? ' · deadline ' + until(g.expiresAt) : ''));
    var conf = el('span', 'confidence');
    meta.appendChild(conf);
    card.appendChild(meta);
    card.appendChild(el('div', 'reason', g.reason));
    if (inputReview) {
      card.appendChild(el('div', 'label', 'Input (as screened: secrets cut); approve to run the task with it'));
      card.appendChild(el('pre', 'args', g.arguments.input));
      card.appendChild(el('div', 'meta', 'guardrail: ' + (g.arguments.categories || []).join(', ') + ' · score ' + g.arguments.score));
    } else {
      card.appendChild(el('div', 'label', 'Arguments'));
      card.appendChild(el('pre', 'args', JSON.stringify(g.arguments, null, 2)));
    }
    if (g.comment) card.appendChild(el('div', 'meta', 'comment: ' + g.comment));

    var box = el('div', 'task hidden');
    var toggle = el('button', 'link-btn', 'Show task & timeline');
    toggle.type = 'button';
    var loaded = false;
    var loadTimeline = async function () {
      box.classList.remove('hidden');
      toggle.textContent = 'Hide task & timeline';
      if (!loaded) box.replaceChildren(el('div', 'meta', 'loading the task…'));
      try {
        var t = await api('GET', '/v1/approvals/' + encodeURIComponent(g.id) + '/timeline');
        loaded = true;
        renderTimeline(box, g, t, function (c) { conf.textContent = ' · model confidence ' + c; });
      } catch (e) {
        box.replaceChildren(el('div', 'error', 'could not load the task: ' + e.message));
      }
    };
    toggle.addEventListener('click', function () {
      if (!box.classList.contains('hidden')) { box.classList.add('hidden'); toggle.textContent = 'Show task & timeline'; return; }
      void loadTimeline();
    });
    card.appendChild(toggle);
    card.appendChild(box);

    if (g.status === 'pending') {
      var actions = el('div', 'actions');
      var comment = el('input', 'comment');
      comment.placeholder = 'comment (optional)';
      comment.setAttribute('aria-label', 'comment for ' + g.tool);
      comment.maxLength = 10000;
      comment.value = drafts.get(g.id) || '';
      comment.addEventListener('input', function () { drafts.set(g.id, comment.value); });
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
            drafts.delete(g.id);
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
    if (autoTimeline) void loadTimeline();
    return card;
  }

  // Keyed update: an unchanged gate keeps its card (and the comment being typed, and its focus).
  function render(items) {
    var list = $('list');
    var focus = location.hash.slice(1);
    var nodes = [];
    var seen = new Set();
    items.forEach(function (g, i) {
      seen.add(g.id);
      var sig = signature(g);
      var c = cards.get(g.id);
      if (!c || c.sig !== sig) {
        c = { node: buildCard(g, focus, g.status === 'pending' && (i < AUTO_TIMELINES || g.id === focus)), sig: sig };
        cards.set(g.id, c);
      }
      nodes.push(c.node);
    });
    cards.forEach(function (_c, id) { if (!seen.has(id)) { cards.delete(id); drafts.delete(id); } });
    if (!nodes.length) nodes.push(el('p', 'empty', 'Nothing here.'));
    nodes.forEach(function (n, i) {
      if (list.children[i] !== n) list.insertBefore(n, list.children[i] || null);
    });
    while (list.children.length > nodes.length) list.removeChild(list.lastChild);
  }

  var loading = null;
  var again = false;
  async function load() {
    // One request at a time; a change that arrives meanwhile loads once more after it.
    if (loading) { again = true; return loading; }
    loading = (async function () {
      do {
        again = false;
        if (!sessionStorage.getItem(KEY)) {
          cards.clear();
          $('list').replaceChildren(el('p', 'empty', 'Enter an API key with the approver (or viewer) role.'));
          break;
        }
        var status = $('status').value;
        try {
          var data = await api('GET', '/v1/approvals' + (status ? '?status=' + encodeURIComponent(status) : ''));
          clearError();
          render(data.items);
        } catch (e) {
          showError(e.message);
        }
      } while (again);
    })();
    try { await loading; } finally { loading = null; }
  }

  $('key-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var v = $('key').value.trim();
    if (v) sessionStorage.setItem(KEY, v);
    $('key').value = '';
    cards.clear();
    void load();
    void startLive();
  });
  $('forget').addEventListener('click', function () {
    sessionStorage.removeItem(KEY);
    stopLive();
    setCount(null);
    void load();
  });
  $('status').addEventListener('change', function () { void load(); });
  $('refresh').addEventListener('click', function () { void load(); });
  window.addEventListener('hashchange', function () { cards.clear(); void load(); });
  void load();
  void startLive();
})();
</script>
</body>
</html>
`;
}
