// DMS3 dashboard page: renders the cards the hub sends over Server-Sent Events (api/events), keeps the
// "ago" times current, shows a banner while the connection is lost, and sends override requests.
// Data is always written with textContent, never as HTML.
'use strict';

(function () {
  const config = JSON.parse(document.getElementById('dms3-config').textContent);
  const $ = (id) => document.getElementById(id);
  const grid = $('cards');
  const cards = new Map(); // id -> { el, card }
  let clockOffset = 0; // server time minus this browser's time
  let server = null; // the server card
  let source = null;
  let retryMs = 1000;

  const HEALTH = { ok: 'Reporting', warning: 'Late', danger: 'Not reporting', missing: 'Missing' };
  const MOTION = { running: 'Running', paused: 'Paused', stopped: 'Stopped', failed: 'Failed', unknown: 'Unknown' };
  const REASON = {
    override: 'manual override',
    'always-on': 'Always On window',
    'nobody-home': 'nobody home',
    'someone-home': 'someone home',
    startup: 'waiting for presence',
  };
  const STATE = { start: 'Armed', stop: 'Disarmed' };

  const ICONS = {
    server:
      '<svg viewBox="0 0 48 48" aria-hidden="true" focusable="false"><rect class="fg" x="5" y="7" width="38" height="15" rx="3.5"/><rect class="fg" x="5" y="26" width="38" height="15" rx="3.5"/>' +
      '<circle class="cut" cx="12" cy="14.5" r="2.2"/><circle class="cut" cx="12" cy="33.5" r="2.2"/><rect class="cut" x="19" y="13" width="18" height="3" rx="1.5"/><rect class="cut" x="19" y="32" width="18" height="3" rx="1.5"/></svg>',
    agent:
      '<svg viewBox="0 0 48 48" aria-hidden="true" focusable="false"><path class="leaf" d="M24 15c-3-6-9-8-14-6 2 5 8 7 14 6z"/><path class="leaf" d="M24 15c3-6 9-8 14-6-2 5-8 7-14 6z"/>' +
      '<circle class="drupe" cx="18" cy="20" r="5"/><circle class="drupe" cx="30" cy="20" r="5"/><circle class="drupe" cx="24" cy="23" r="5"/>' +
      '<circle class="drupe" cx="14" cy="28" r="5"/><circle class="drupe" cx="34" cy="28" r="5"/><circle class="drupe" cx="24" cy="31" r="5"/>' +
      '<circle class="drupe" cx="18" cy="37" r="5"/><circle class="drupe" cx="30" cy="37" r="5"/><circle class="drupe" cx="24" cy="42" r="4"/></svg>',
  };

  // ---- formatting

  const pad = (n) => String(n).padStart(2, '0');
  const now = () => Date.now() + clockOffset;

  /** ISO 8601 in this browser's time zone, e.g. 2025-03-01T14:02:11+01:00. */
  function isoLocal(date) {
    const off = -date.getTimezoneOffset();
    const sign = off >= 0 ? '+' : '-';
    const a = Math.abs(off);
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
  }

  /** "14:02" today, "1 Mar 14:02" on another day. */
  function clock(iso) {
    const d = new Date(iso);
    const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
    return d.toDateString() === new Date(now()).toDateString() ? hm : `${d.getDate()} ${d.toLocaleString('en', { month: 'short' })} ${hm}`;
  }

  function ago(iso) {
    const s = Math.max(0, Math.round((now() - Date.parse(iso)) / 1000));
    if (s < 5) return 'just now';
    if (s < 60) return `${s} s ago`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ago`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ago`;
    return `${Math.floor(h / 24)} days ago`;
  }

  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const d = Math.floor(s / 86400);
    const h = Math.floor((s % 86400) / 3600);
    const m = Math.floor((s % 3600) / 60);
    if (d > 0) return `${d} d ${h} h`;
    if (h > 0) return `${h} h ${m} min`;
    return `${m} min`;
  }

  /** Uptime now: extrapolated while the device reports, as reported otherwise. */
  function uptime(card) {
    const since = card.health === 'ok' ? Math.max(0, (now() - Date.parse(card.uptimeAt)) / 1000) : 0;
    return duration(card.uptime + since);
  }

  // ---- DOM helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  const pill = (cls, text) => el('span', { class: `pill ${cls}`, text });

  function time(iso) {
    return el(
      'span',
      { class: 'when' },
      el('span', { 'data-ago': iso, text: ago(iso) }),
      el('time', { datetime: iso, class: 'iso', text: isoLocal(new Date(iso)) }),
    );
  }

  /** The machine's facts as one compact list: OS, platform, kernel, uptime, software. */
  function specs(items) {
    const ul = el('ul', { class: 'specs', 'aria-label': 'System' });
    for (const [label, value, attrs] of items) ul.append(el('li', attrs || {}, el('span', { class: 'visually-hidden', text: `${label}: ` }), value));
    return ul;
  }

  function facts(rows) {
    const dl = el('dl', { class: 'facts' });
    for (const [label, value] of rows) {
      if (value === null || value === undefined || value === '') continue;
      dl.append(el('dt', { text: label }), el('dd', {}, value));
    }
    return dl;
  }

  function head(card, subtitle) {
    const titleId = `title-${card.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    const icon = el('div', { class: 'device-icon' });
    icon.innerHTML = card.kind === 'server' ? ICONS.server : ICONS.agent; // constant markup
    return {
      titleId,
      node: el(
        'div',
        { class: 'card-head' },
        icon,
        el('div', { class: 'card-title' }, el('h3', { id: titleId, text: card.name }), el('p', { text: subtitle })),
        pill('pill-health', HEALTH[card.health] || card.health),
      ),
    };
  }

  function surveillance(state) {
    return state ? pill(state === 'start' ? 'pill-armed' : 'pill-disarmed', STATE[state]) : 'not yet';
  }

  function renderServer(card) {
    const h = head(card, card.hostname);
    const list = el('ul', { class: 'presence', 'aria-label': 'Presence' });
    for (const d of card.presence) {
      const where = d.present === true ? 'home' : d.present === false ? 'away' : 'unknown';
      list.append(el('li', {}, el('span', { text: d.name }), pill(`pill-${where}`, where)));
    }
    const st = card.state;
    const body = facts([
      ['Surveillance', st ? el('span', { class: 'with-pill' }, surveillance(st.state), el('span', { text: REASON[st.reason] || st.reason })) : 'no decision yet'],
      ['Since', st ? time(st.since) : null],
      ['Override', st ? (st.override === 'auto' ? 'auto (presence and schedule decide)' : `${st.override} (manual)`) : null],
      ['Presence', card.presence.length ? list : 'no presence report yet'],
      ['Agents', `${card.agents.total} (${card.agents.connected} connected)`],
    ]);
    const system = specs([
      ['System', card.osRelease],
      ['Platform', `${card.platform} ${card.arch}`],
      ['Kernel', `kernel ${card.kernel}`],
      ['Uptime', `up ${uptime(card)}`, { 'data-uptime': '' }],
      ['Software', `DMS3 ${card.version}, Node-RED ${card.nodeRed}`],
    ]);
    return { titleId: h.titleId, children: [h.node, body, system] };
  }

  function renderAgent(card) {
    const h = head(card, card.hostname);
    const connection = card.connected ? (card.transport === 'ws' ? 'connected (WebSocket)' : 'connected (HTTP polling)') : 'disconnected';
    const body = facts([
      ['Motion', pill(`pill-${card.motion}`, MOTION[card.motion] || card.motion)],
      ['Applied', card.applied ? surveillance(card.applied) : 'nothing yet'],
      ['Events', String(card.events)],
      ['Last report', time(card.lastReport)],
      ['Connection', connection],
    ]);
    const children = [h.node, body];
    if (card.error) children.push(el('p', { class: 'card-error', text: `Last error: ${card.error}` }));
    children.push(
      specs([
        ['System', card.osRelease],
        ['Platform', `${card.platform} ${card.arch}`],
        ['Kernel', `kernel ${card.kernel}`],
        ['Uptime', `up ${uptime(card)}`, { 'data-uptime': '' }],
        ['Agent version', `agent ${card.agentVersion}`],
      ]),
    );
    return { titleId: h.titleId, children };
  }

  function render(card) {
    const known = cards.get(card.id);
    const li = known ? known.el : el('li', { 'data-id': card.id });
    const out = card.kind === 'server' ? renderServer(card) : renderAgent(card);
    const article = el('article', { class: `card health-${card.health}`, 'aria-labelledby': out.titleId, 'data-health': card.health, 'data-kind': card.kind });
    article.append(...out.children);
    li.replaceChildren(article);
    if (known) {
      if (known.card.health !== card.health) announce(`${card.name}: ${HEALTH[card.health]}`);
    } else if (card.kind === 'agent' && cards.size > 0) {
      announce(`${card.name} appeared`);
    }
    cards.set(card.id, { el: li, card });
    if (card.kind === 'server') showServer(card);
    return li;
  }

  function reorder(order) {
    order.forEach((id) => {
      const c = cards.get(id);
      if (c) grid.append(c.el); // append moves an existing node
    });
  }

  function remove(id) {
    const c = cards.get(id);
    if (!c) return;
    c.el.remove();
    cards.delete(id);
    announce(`${c.card.name} removed`);
  }

  // ---- header: state and controls

  function showServer(card) {
    const before = server && server.state;
    server = card;
    const box = $('state');
    if (box) {
      const st = card.state;
      box.replaceChildren(
        st ? pill(st.state === 'start' ? 'pill-armed' : 'pill-disarmed', STATE[st.state]) : pill('pill-unknown', 'No decision yet'),
        st ? el('span', { class: 'state-reason', text: `${REASON[st.reason] || st.reason} · since ${clock(st.since)}` }) : '',
      );
    }
    for (const b of document.querySelectorAll('#controls [data-mode]')) {
      b.setAttribute('aria-pressed', String(!!card.state && b.dataset.mode === card.state.override));
    }
    if (before && card.state && (before.state !== card.state.state || before.reason !== card.state.reason)) {
      announce(`Surveillance ${STATE[card.state.state].toLowerCase()}: ${REASON[card.state.reason]}`);
    }
  }

  function setupControls() {
    const box = $('controls');
    if (box && config.controls) {
      box.hidden = false;
      for (const b of box.querySelectorAll('[data-mode]')) b.addEventListener('click', () => override(b.dataset.mode));
    }
    const account = $('account');
    if (!account) return;
    if (config.signOut) {
      const form = el('form', { method: 'post', action: 'logout' }, el('button', { type: 'submit', class: 'link-button', text: 'Sign out' }));
      account.append(form);
    } else if (config.signIn) {
      account.append(el('a', { href: 'login', text: 'Sign in to control' }));
    }
  }

  let pending = false;

  async function override(mode) {
    // Buttons stay enabled (a disabled button loses keyboard focus); one request at a time.
    if (pending) return;
    pending = true;
    const status = $('controls-status');
    const group = document.querySelector('#controls .segmented');
    if (group) group.setAttribute('aria-busy', 'true');
    if (status) {
      status.className = 'controls-status';
      status.textContent = 'Sending…';
    }
    try {
      const res = await fetch('api/override', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ mode }),
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(res.status === 401 ? 'signed out: sign in again' : body.error || `HTTP ${res.status}`);
      if (status) status.textContent = `Override: ${mode}`;
    } catch (err) {
      if (status) {
        status.className = 'controls-status error';
        status.textContent = `Not changed: ${err.message}`;
      }
    } finally {
      pending = false;
      if (group) group.setAttribute('aria-busy', 'false');
    }
  }

  // ---- live updates

  function announce(text) {
    const live = $('announcer');
    if (live) live.textContent = text;
  }

  function setOnline(online) {
    document.body.classList.toggle('offline', !online);
    const banner = $('banner');
    if (!banner) return;
    if (online) {
      banner.hidden = true;
      banner.textContent = '';
    } else if (banner.hidden) {
      banner.textContent = 'Connection to the DMS3 server lost. Reconnecting… (the cards show the last known state)';
      banner.hidden = false;
    }
  }

  function stamp(iso) {
    clockOffset = Date.parse(iso) - Date.now();
    const updated = $('updated');
    if (updated) updated.textContent = `updated ${isoLocal(new Date(iso))}`;
  }

  function onSnapshot(data) {
    stamp(data.now);
    const ids = new Set(data.order);
    for (const id of [...cards.keys()]) {
      if (!ids.has(id)) {
        cards.get(id).el.remove();
        cards.delete(id);
      }
    }
    for (const card of data.cards) render(card);
    reorder(data.order);
    grid.setAttribute('aria-busy', 'false');
    retryMs = 1000;
    setOnline(true);
  }

  function onCard(data) {
    stamp(data.now);
    const li = render(data.card);
    if (data.order) reorder(data.order);
    else if (!li.isConnected) grid.append(li);
  }

  function onRemove(data) {
    stamp(data.now);
    remove(data.id);
    if (data.order) reorder(data.order);
  }

  function connect() {
    source = new EventSource('api/events');
    const on = (name, fn) => source.addEventListener(name, (e) => fn(JSON.parse(e.data)));
    on('snapshot', onSnapshot);
    on('card', onCard);
    on('remove', onRemove);
    source.addEventListener('error', () => {
      setOnline(false);
      // The browser retries by itself unless the hub answered with an error (e.g. during a redeploy).
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(reconnect, retryMs);
        retryMs = Math.min(retryMs * 2, 15000);
      }
    });
  }

  async function reconnect() {
    try {
      const res = await fetch('api/view', { credentials: 'same-origin', cache: 'no-store' });
      if (res.status === 401) {
        location.href = 'login';
        return;
      }
    } catch {
      /* the server is away: try the stream anyway, it reports its own errors */
    }
    connect();
  }

  function tick() {
    for (const node of document.querySelectorAll('[data-ago]')) node.textContent = ago(node.dataset.ago);
    for (const { el: li, card } of cards.values()) {
      const up = li.querySelector('[data-uptime]');
      if (up) up.lastChild.textContent = `up ${uptime(card)}`;
    }
  }

  setupControls();
  connect();
  setInterval(tick, 5000);
})();
