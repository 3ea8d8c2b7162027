// The live run page: follow the run's events over a websocket. The server sends every
// event after the last sequence this page has seen, so after a drop the page reconnects
// with ?after=<last seq> and misses nothing; events at or below it are ignored.
(function () {
  "use strict";
  const root = document.getElementById("run-stream");
  if (!root) return;
  const runId = root.dataset.run;
  const liveUrl = root.dataset.liveUrl;
  const status = root.querySelector("[data-testid=connection]");
  const eventsList = document.getElementById("events");
  let lastSeq = parseInt(root.dataset.lastSeq, 10) || 0;
  let socket = null;
  let attempts = 0;
  let refreshTimer = null;
  let closedOnPurpose = false;
  const texts = root.dataset;  // in the reader's language, from the template

  function say(text) { if (status) status.textContent = text; }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/ws/runs/${runId}/?after=${lastSeq}`);
    socket.onopen = function () { attempts = 0; say(texts.sayConnected); };
    socket.onmessage = function (message) { handle(JSON.parse(message.data)); };
    socket.onclose = function (event) {
      // 4404: no such run (or not yours); 4403: access ended (removed from the team, signed out).
      if (closedOnPurpose || event.code === 4404 || event.code === 4403) { say(texts.sayStopped); return; }
      attempts += 1;
      const delay = Math.min(5000, 250 * 2 ** Math.min(attempts, 5));
      say(texts.sayReconnecting);
      setTimeout(connect, delay);
    };
  }

  function handle(event) {
    if (typeof event.seq !== "number" || event.seq <= lastSeq) return;
    lastSeq = event.seq;
    root.dataset.lastSeq = String(lastSeq);
    appendEvent(event);
    if (event.type === "step.log") {
      appendLog(event.step || "", event.data.lines || []);
    } else {
      scheduleRefresh(event.type.startsWith("run.") ? 0 : 150);
    }
  }

  const labelsNode = document.getElementById("status-labels");
  const statusLabels = labelsNode ? JSON.parse(labelsNode.textContent) : {};

  function two(n) { return String(n).padStart(2, "0"); }

  function appendEvent(event) {
    const item = document.createElement("li");
    item.dataset.seq = String(event.seq);
    const data = event.data || {};
    const at = event.at ? new Date(event.at) : new Date();
    const time = document.createElement("time");
    time.className = "muted";
    time.dateTime = at.toISOString();
    time.textContent = `${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
    item.appendChild(time);
    item.appendChild(document.createTextNode(` #${event.seq} `));
    const type = document.createElement("code");
    type.className = "etype";
    type.textContent = event.type;
    item.appendChild(type);
    if (data.key) {
      const key = document.createElement("code");
      key.textContent = data.key;
      item.appendChild(document.createTextNode(" "));
      item.appendChild(key);
    }
    let text = "";
    if (data.status) text += ` → ${statusLabels[data.status] || data.status}`;
    if (event.type === "step.log") {
      const count = (data.lines || []).length;
      text += ` (${count} ${count === 1 ? texts.sayLine : texts.sayLines})`;
    }
    if (text) item.appendChild(document.createTextNode(text));
    eventsList.appendChild(item);
  }

  // The run's duration ticks while it runs; the live indicator goes once it has finished.
  function formatDuration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}${texts.sayUnitS}`;
    if (s < 3600) return `${Math.floor(s / 60)}${texts.sayUnitM}${two(s % 60)}${texts.sayUnitS}`;
    return `${Math.floor(s / 3600)}${texts.sayUnitH}${two(Math.floor((s % 3600) / 60))}${texts.sayUnitM}`;
  }

  function tick() {
    const live = document.getElementById("run-live");
    if (!live) return;
    if (live.dataset.finished === "true") {
      if (status) status.hidden = true;
      return;
    }
    const clock = live.querySelector("[data-started]");
    if (clock) clock.textContent = formatDuration((Date.now() - Date.parse(clock.dataset.started)) / 1000);
  }
  setInterval(tick, 1000);

  function appendLog(key, lines) {
    const logs = document.getElementById("logs");
    const empty = document.getElementById("no-logs");
    if (empty) empty.remove();
    let block = Array.from(logs.querySelectorAll("details.log")).find((d) => d.dataset.log === key);
    if (!block) {
      block = document.createElement("details");
      block.className = "log";
      block.dataset.log = key;
      const summary = document.createElement("summary");
      const code = document.createElement("code");
      code.textContent = key;
      summary.appendChild(code);
      block.appendChild(summary);
      block.appendChild(document.createElement("pre"));
      logs.appendChild(block);
    }
    block.querySelector("pre").textContent += lines.map((l) => l + "\n").join("");
  }

  // Re-render the graph, steps, progress and gates from the server after state changes.
  function scheduleRefresh(delay) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, delay);
  }

  async function refresh() {
    const live = document.getElementById("run-live");
    if (live && live.contains(document.activeElement) && document.activeElement.matches("input, textarea, select")) {
      scheduleRefresh(1000); // someone is typing in the gate form: do not wipe it
      return;
    }
    const response = await fetch(liveUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" });
    if (!response.ok) return;
    const html = await response.text();
    const holder = document.createElement("div");
    holder.innerHTML = html;
    const fresh = holder.querySelector("#run-live");
    if (live && fresh) {
      // Keep open what the reader opened (the graph, a step's result, the cancel question).
      const opened = new Set(Array.from(live.querySelectorAll("details[open]")).map(keyOf));
      fresh.querySelectorAll("details").forEach((d) => { if (opened.has(keyOf(d))) d.open = true; });
      live.replaceWith(fresh);
      tick();
    }
  }

  function keyOf(details) {
    const row = details.closest("[data-step]");
    return `${details.className}|${row ? row.dataset.step : ""}`;
  }

  window.runStream = {
    get socket() { return socket; },
    get lastSeq() { return lastSeq; },
    stop() { closedOnPurpose = true; if (socket) socket.close(); },
  };
  connect();
})();
