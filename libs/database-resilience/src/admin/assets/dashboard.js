// The admin dashboard's script: polls the admin API and draws with DOM calls only (no innerHTML with data).
'use strict';

(function dashboard() {
  const body = document.body;
  const base = body.dataset.base;
  const refreshMs = Number(body.dataset.refresh) || 5000;
  const $ = (id) => document.getElementById(id);

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (key === 'class') node.className = value;
      else if (key.startsWith('data-')) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''));
    return node;
  }

  function csrfToken() {
    const match = document.cookie.split('; ').find((c) => c.startsWith('dr_admin_csrf='));
    return match ? decodeURIComponent(match.slice('dr_admin_csrf='.length)) : '';
  }

  async function api(path, method = 'GET') {
    const response = await fetch(`${base}/${path}`, {
      method,
      credentials: 'same-origin',
      headers: method === 'GET' ? {} : { 'x-csrf-token': csrfToken() },
    });
    if (response.status === 401) throw Object.assign(new Error('unauthorized'), { status: 401 });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
    return response.json();
  }

  function showMessage(text) {
    const message = $('message');
    message.textContent = text;
    message.hidden = !text;
  }

  function ago(iso) {
    const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
    return seconds < 60 ? `${seconds} s ago` : `${Math.round(seconds / 60)} min ago`;
  }

  function renderBanner(degradation) {
    const banner = $('banner');
    banner.hidden = !degradation.degraded;
    banner.textContent = degradation.degraded
      ? `Degraded: ${degradation.reason} — non-essential features are paused (since ${new Date(degradation.since).toLocaleTimeString()})`
      : '';
  }

  function renderHealth(databases) {
    $('health').replaceChildren(
      ...databases.map((db) =>
        el(
          'div',
          { class: 'tile', 'data-database': db.database },
          el('strong', {}, db.database),
          el('span', { class: db.status }, db.status),
          el('div', { class: 'muted' }, `${db.latencyMs} ms · checked ${ago(db.checkedAt)}`),
          db.pool
            ? el(
                'div',
                { class: 'muted' },
                `pool ${db.pool.inUse}/${db.pool.limit ?? '∞'} in use, ${db.pool.waiting} waiting`,
              )
            : '',
          db.error ? el('div', { class: 'down' }, db.error.message) : '',
          ...db.replicas.map((r) =>
            el(
              'div',
              { class: r.up ? 'up' : 'down' },
              `${r.node}: ${r.up ? 'up' : 'down'}${r.lagSeconds === null ? '' : `, ${r.lagSeconds} s behind`}`,
            ),
          ),
        ),
      ),
    );
  }

  function renderBreakers(breakers) {
    $('breakers').tBodies[0].replaceChildren(
      ...breakers.map((b) => {
        const reset = el('button', { type: 'button', 'data-reset': b.name }, 'Reset');
        reset.addEventListener('click', () =>
          act(`api/circuit-breakers/${encodeURIComponent(b.name)}/reset`, `Breaker ${b.name} reset`),
        );
        const next = b.forced
          ? 'until reset'
          : b.nextProbeInMs === null
            ? '—'
            : `in ${Math.ceil(b.nextProbeInMs / 1000)} s`;
        return el(
          'tr',
          { 'data-breaker': b.name },
          el('td', {}, b.name),
          el('td', { class: b.state }, b.forced ? `${b.state} (forced)` : b.state),
          el('td', {}, b.consecutiveFailures),
          el('td', {}, b.rejected),
          el('td', {}, next),
          el('td', {}, b.state === 'closed' ? '' : reset),
        );
      }),
    );
  }

  function renderChart(points) {
    const svgNs = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(svgNs, 'svg');
    const max = Math.max(1, ...points.map((p) => p.errors));
    const width = 600;
    const height = 120;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `errors per minute over the last hour, at most ${max}`);
    const step = width / Math.max(1, points.length);
    points.forEach((p, i) => {
      const bar = document.createElementNS(svgNs, 'rect');
      const h = (p.errors / max) * (height - 4);
      bar.setAttribute('x', String(i * step + 1));
      bar.setAttribute('y', String(height - h));
      bar.setAttribute('width', String(Math.max(1, step - 2)));
      bar.setAttribute('height', String(h));
      const title = document.createElementNS(svgNs, 'title');
      title.textContent = `${new Date(p.at).toLocaleTimeString()}: ${p.errors}`;
      bar.append(title);
      svg.append(bar);
    });
    const total = points.reduce((sum, p) => sum + p.errors, 0);
    const caption = total === 0 ? 'no errors in the last hour' : `${total} in the hour, peak ${max} per minute`;
    $('chart').replaceChildren(svg, el('div', { class: 'muted' }, caption));
  }

  function renderCounts(id, counts) {
    const rows = Object.entries(counts).filter(([, n]) => n > 0);
    $(id).tBodies[0].replaceChildren(
      ...(rows.length
        ? rows.map(([name, n]) => el('tr', {}, el('td', {}, name), el('td', {}, n)))
        : [el('tr', {}, el('td', { class: 'muted' }, 'none in the last hour'))]),
    );
  }

  function renderRecent(recent) {
    const { errors } = recent;
    $('scope').textContent =
      recent.scope === 'fleet' ? '(all instances)' : `(this instance, ${recent.instance}, only: ${recent.reason})`;
    // Red only when a fleet view is configured but Redis does not answer; a single instance without a store is normal.
    $('scope').className = recent.scope === 'fleet' || recent.reason.startsWith('no shared store') ? 'muted' : 'down';
    $('recent').tBodies[0].replaceChildren(
      ...errors.map((e) =>
        el(
          'tr',
          {},
          el('td', {}, new Date(e.at).toLocaleTimeString()),
          el('td', {}, e.instance),
          el('td', {}, e.database),
          el('td', {}, e.category),
          el('td', { class: e.severity === 'critical' ? 'down' : '' }, e.severity),
          el('td', {}, e.code),
          el('td', {}, e.route ?? e.operation ?? ''),
          el('td', {}, e.message),
        ),
      ),
    );
  }

  function renderInstances(statistics) {
    const select = $('fleet-filter').elements.namedItem('instance');
    const known = new Set([...select.options].map((o) => o.value));
    for (const id of Object.keys(statistics.byInstance))
      if (!known.has(id)) select.append(el('option', { value: id }, id));
    const rows = Object.entries(statistics.byInstance);
    $('by-instance').tBodies[0].replaceChildren(
      ...rows.map(([id, n]) =>
        el('tr', { 'data-instance': id }, el('td', {}, id), el('td', {}, `${n} errors this hour`)),
      ),
    );
  }

  function fleetQuery(path) {
    const instance = $('fleet-filter').elements.namedItem('instance').value;
    return instance ? `${path}${path.includes('?') ? '&' : '?'}instance=${encodeURIComponent(instance)}` : path;
  }

  function renderIncidents(groups) {
    $('incidents').tBodies[0].replaceChildren(
      ...(groups.length
        ? groups.map((g) =>
            el(
              'tr',
              {},
              el('td', {}, g.count),
              el('td', {}, g.database),
              el('td', {}, g.code),
              el('td', {}, g.category),
              el('td', { class: g.severity === 'critical' ? 'down' : '' }, g.severity),
              el('td', {}, g.route ?? g.operation ?? ''),
              el('td', {}, new Date(g.firstSeen).toLocaleTimeString()),
              el('td', {}, new Date(g.lastSeen).toLocaleTimeString()),
              el(
                'td',
                {},
                Object.entries(g.outcomes)
                  .filter(([, n]) => n > 0)
                  .map(([outcome, n]) => `${outcome} ${n}`)
                  .join(', '),
              ),
            ),
          )
        : [el('tr', {}, el('td', { class: 'muted' }, 'no failures match'))]),
    );
  }

  function describeEntry(entry) {
    if (entry.kind === 'breaker') return `breaker of ${entry.database} ${entry.state}`;
    if (entry.kind === 'health') return `health of ${entry.database} ${entry.up ? 'up' : 'down'}`;
    return entry.degraded ? `degradation on: ${entry.reason}` : `degradation off (${entry.reason})`;
  }

  function renderTimeline(entries) {
    $('timeline').replaceChildren(
      ...(entries.length
        ? entries.map((entry) =>
            el(
              'li',
              { class: entry.kind === 'breaker' && entry.state === 'open' ? 'down' : '' },
              el('time', { datetime: entry.at }, new Date(entry.at).toLocaleString()),
              ' ',
              describeEntry(entry),
            ),
          )
        : [el('li', { class: 'muted' }, 'nothing changed in the last 24 hours')]),
    );
  }

  function incidentQuery() {
    const form = new FormData($('incident-filter'));
    const query = new URLSearchParams();
    for (const [name, value] of form) if (String(value).trim() !== '') query.set(name, String(value).trim());
    return `api/incidents?${query}`;
  }

  /** The fleet's slow statements and deadlock victims, each with its instances' shares. */
  function renderHotSpots(spots) {
    const shares = (byInstance) =>
      Object.entries(byInstance)
        .map(([id, n]) => `${id}: ${n}`)
        .join(', ');
    const table = (id, heads, rows, empty) =>
      el(
        'table',
        { id },
        el('thead', {}, el('tr', {}, ...heads.map((h) => el('th', {}, h)))),
        el(
          'tbody',
          {},
          ...(rows.length ? rows : [el('tr', {}, el('td', { colSpan: heads.length, class: 'muted' }, empty))]),
        ),
      );
    $('fleet-hot-spots').replaceChildren(
      el('h3', {}, `Slow statements (${spots.scope === 'fleet' ? 'all instances' : 'this instance'})`),
      table(
        'hot-slow',
        ['statement', 'times', 'mean ms', 'instances'],
        spots.slowQueries.map((q) =>
          el(
            'tr',
            {},
            el('td', {}, el('code', {}, q.fingerprint)),
            el('td', {}, q.count),
            el('td', {}, q.meanMs),
            el('td', {}, shares(q.byInstance)),
          ),
        ),
        'no slow statements',
      ),
      el('h3', {}, `Deadlocks lost: ${spots.deadlocks.total}`),
      table(
        'hot-deadlocks',
        ['statement', 'deadlocks', 'instances'],
        spots.deadlocks.topStatements.map((d) =>
          el(
            'tr',
            {},
            el('td', {}, el('code', {}, d.fingerprint)),
            el('td', {}, d.deadlocks),
            el('td', {}, shares(d.byInstance)),
          ),
        ),
        'no deadlocks',
      ),
    );
  }

  function renderDeadlocks(reports) {
    $('deadlocks').replaceChildren(
      ...reports.map((r) =>
        el(
          'div',
          {},
          el(
            'h3',
            {},
            `${r.database}: ${r.deadlocks} deadlocks${r.serverDeadlocks === null ? '' : ` (server: ${r.serverDeadlocks})`}`,
          ),
          el(
            'table',
            {},
            el(
              'tbody',
              {},
              ...r.topStatements.map((s) =>
                el('tr', {}, el('td', {}, el('code', {}, s.fingerprint)), el('td', {}, s.deadlocks)),
              ),
            ),
          ),
          el(
            'p',
            { class: 'muted' },
            r.topTablePairs.map((p) => `${p.tables} (${p.deadlocks})`).join(' · ') || 'no table pairs yet',
          ),
          r.latest
            ? el(
                'pre',
                {},
                `Latest (${r.latest.at}), victim: transaction ${r.latest.victim ?? '?'}\n` +
                  r.latest.transactions
                    .map((t) => `(${t.number}) ${t.statement}\n    tables: ${t.tables.join(', ')}`)
                    .join('\n'),
              )
            : el('p', { class: 'muted' }, 'no InnoDB deadlock report yet'),
        ),
      ),
    );
  }

  async function load() {
    try {
      const [statistics, recent, health, breakers, deadlocks, incidents, timeline, fleet, hotSpots] = await Promise.all(
        [
          api('api/statistics'),
          api(fleetQuery('api/fleet/recent-errors?limit=50')),
          api('api/health-check'),
          api('api/circuit-breakers'),
          api('api/deadlocks'),
          api(incidentQuery()),
          api('api/timeline'),
          api('api/fleet/statistics'),
          api(fleetQuery('api/fleet/hot-spots?hours=1')),
        ],
      );
      $('login').hidden = true;
      $('content').hidden = false;
      renderBanner(health.degradation);
      renderHealth(health.databases);
      renderBreakers(breakers);
      renderChart(statistics.trend.lastHour);
      renderCounts('by-severity', statistics.window.bySeverity);
      renderCounts('by-category', statistics.window.byCategory);
      renderIncidents(incidents);
      renderTimeline(timeline);
      renderInstances(fleet);
      renderRecent(recent);
      renderDeadlocks(deadlocks);
      renderHotSpots(hotSpots);
      $('updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (error.status === 401) {
        $('content').hidden = true;
        $('login').hidden = false;
        $('login').querySelector('form').hidden = body.dataset.login !== 'token';
        $('login-none').hidden = body.dataset.login === 'token';
        if (location.search.includes('login=failed')) showMessage('That token is not right.');
      } else {
        showMessage(`Could not refresh: ${error.message}`);
      }
    }
  }

  async function act(path, done) {
    try {
      await api(path, 'POST');
      showMessage(done);
    } catch (error) {
      showMessage(`Failed: ${error.message}`);
    }
    await load();
  }

  $('refresh').addEventListener('click', () => load());
  $('incident-filter').addEventListener('change', () => load());
  $('fleet-filter').addEventListener('change', () => load());
  $('incident-filter').addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  $('reset-degradation').addEventListener('click', () => act('api/degradation/reset', 'Degradation reset'));
  load();
  setInterval(load, refreshMs);
})();
