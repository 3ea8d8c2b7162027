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

  function appendEvent(event) {
    const item = document.createElement("li");
    item.dataset.seq = String(event.seq);
    const data = event.data || {};
    let text = `#${event.seq} ${event.type}`;
    if (data.key) text += ` ${data.key}`;
    if (data.status) text += ` → ${data.status}`;
    if (event.type === "step.log") {
      const count = (data.lines || []).length;
      text += ` (${count} ${count === 1 ? texts.sayLine : texts.sayLines})`;
    }
    item.textContent = text;
    eventsList.appendChild(item);
  }

  function appendLog(key, lines) {
    const logs = document.getElementById("logs");
    const empty = document.getElementById("no-logs");
    if (empty) empty.remove();
    let block = Array.from(logs.querySelectorAll("details.log")).find((d) => d.dataset.log === key);
    if (!block) {
      block = document.createElement("details");
      block.className = "log";
      block.open = true;
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
    if (live && fresh) live.replaceWith(fresh);
  }

  window.runStream = {
    get socket() { return socket; },
    get lastSeq() { return lastSeq; },
    stop() { closedOnPurpose = true; if (socket) socket.close(); },
  };
  connect();
})();
