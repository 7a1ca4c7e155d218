// The classroom page: polls live/state every second, draws the cards and two SVG charts by hand
// (no library to serve), and posts its actions with the session's CSRF token.
const $ = (id) => document.getElementById(id);
const CSRF = document.querySelector('meta[name="csrf-token"]').content;
const show = (v, digits) => (v === null || v === undefined) ? "–" : (digits !== undefined ? Number(v).toFixed(digits) : v);
const W = 1000, H = 160, PAD = 8;

function path(points, max) {
  const n = points.length;
  return points.map((v, i) => `${i ? "L" : "M"}${(i * W / Math.max(n - 1, 1)).toFixed(1)},` +
                               `${(H - PAD - (H - 2 * PAD) * v / max).toFixed(1)}`).join(" ");
}

function area(lower, upper, max) {
  const n = upper.length, x = (i) => (i * W / Math.max(n - 1, 1)).toFixed(1);
  const y = (v) => (H - PAD - (H - 2 * PAD) * v / max).toFixed(1);
  let d = upper.map((v, i) => `${i ? "L" : "M"}${x(i)},${y(v)}`).join(" ");
  for (let i = n - 1; i >= 0; i--) d += ` L${x(i)},${y(lower[i])}`;
  return d + " Z";
}

function drawAnswers(series) {
  const online = series.map(p => p.online), offline = series.map((p, i) => online[i] + p.offline);
  const other = series.map((p, i) => offline[i] + p.other), bad = series.map(p => p.unexpected);
  const max = Math.max(5, ...other, ...bad) * 1.1;
  const zero = series.map(() => 0);
  $("chart").innerHTML =
    `<path d="${area(zero, online, max)}" fill="#2e9e2e"/>` +
    `<path d="${area(online, offline, max)}" fill="#e8892e"/>` +
    `<path d="${area(offline, other, max)}" fill="#8a8a8a"/>` +
    `<path d="${path(bad, max)}" stroke="#ff4d4d" stroke-width="4" fill="none"/>` +
    `<text x="8" y="26">${Math.round(max)}/s</text>`;
  $("chart").dataset.offlineSeconds = series.filter(p => p.offline > 0).length;
  $("chart").dataset.onlineSeconds = series.filter(p => p.online > 0).length;
}

function drawLatency(series) {
  const p95 = series.map(p => p.p95_ms || 0), max = Math.max(50, ...p95) * 1.1;
  $("latency").innerHTML = `<path d="${path(p95, max)}" stroke="#6ab0ff" stroke-width="4" fill="none"/>` +
    `<text x="8" y="26">${Math.round(max)} ms</text>`;
}

async function refresh() {
  try {
    const s = await (await fetch("live/state", {cache: "no-store", credentials: "same-origin"})).json();
    $("scenario").textContent = show(s.scenario);
    $("phase").textContent = s.running ? show(s.phase) : "stopped";
    $("elapsed").textContent = show(s.elapsed_s);
    $("users").textContent = show(s.users);
    $("resilience").textContent = show(s.resilience);
    const mode = s.fault ? s.fault.mode : (s.control ? "up" : "unknown");
    $("fault").textContent = mode;
    $("fault").className = "value " + mode;
    const breaker = s.gateway ? show(s.breaker) : "gateway unreachable";
    $("breaker").textContent = breaker;
    $("breaker").className = "value " + breaker;
    const rates = s.rates || {};
    $("breaker-why").textContent = (breaker === "closed" && (rates.offline || 0) > 0 && mode !== "up") ?
      "yet offline: slow calls answered offline one by one" :
      (breaker === "open" ? "no calls to the platform" : "");
    const j = s.journal || {};
    $("pending").textContent = show(j.pending);
    $("journal-detail").textContent = s.journal ? `recorded ${j.recorded} · drained ${j.drained}` : "";
    const r = s.reconciliation || {};
    $("exposure").textContent = s.reconciliation ? `${show(r.exposure_eur)} €` : "–";
    $("reconciliation").textContent = s.reconciliation ?
      `confirmed ${r.confirmed} · adjusted ${r.adjusted} · refused ${r.rejected}` : "";
    for (const k of ["online", "offline", "declined", "failed"]) $(k).textContent = show(rates[k], 1);
    $("failed").className = "value " + ((rates.failed || 0) > 0 ? "bad" : "");
    drawAnswers(s.series || []);
    drawLatency(s.series || []);
    document.body.dataset.ready = "1";
  } catch (e) {
    $("message").textContent = "cannot read state: " + e;
  }
}

async function act(path, body, label) {
  $("message").textContent = `${label}…`;
  const r = await fetch(path, {method: "POST", credentials: "same-origin",
                               headers: {"Content-Type": "application/json", "X-CSRF-Token": CSRF},
                               body: JSON.stringify(body || {})});
  const answer = await r.json();
  $("message").textContent = r.ok ? `${label}: done` : `refused: ${answer.error || JSON.stringify(answer)}`;
  refresh();
}

$("start").onclick = () => act("live/start", {}, "starting the shops");
$("stop").onclick = () => act("live/stop", {}, "stopping the shops");
$("cut").onclick = () => act("live/fault", {fault: "down"}, "fault \"down\"");
$("restore").onclick = () => act("live/fault", {fault: "up"}, "fault \"up\"");
$("slow").onclick = () => act("live/fault", {fault: "slow"}, "fault \"slow\"");
refresh();
setInterval(refresh, 1000);
