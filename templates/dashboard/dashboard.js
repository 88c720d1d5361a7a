// The dashboard's behaviour: items and state arrive as Server-Sent Events from the run; the
// buttons post commands that the run takes in order with every other terminal's. Text from
// the journal is only ever set as textContent, never parsed as HTML.
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("config").textContent);
  const $ = (id) => document.getElementById(id);
  const LIMIT = 80;
  const LISTS = {
    AWS: "fired", ATTACKER: "attacker", RESPONDER: "responders", NOTE: "responders",
    STEP: "run-log", PENALTY: "run-log", FACILITATOR: "run-log", RUN: "run-log",
    ERROR: "run-log", WORKLOAD: "run-log",
  };
  let state = null;
  let stateAt = 0;
  let lastId = 0;
  let ended = false;

  function clockText(t) {
    const sign = t < 0 ? "-" : "+";
    const s = Math.floor(Math.abs(t));
    const pad = (n) => String(n).padStart(2, "0");
    const days = Math.floor(s / 86400);
    const hours = Math.floor(s / 3600) % 24;
    const time = `${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
    // past a day (a run lasts up to a week): T+2d 03:04:05, as the console writes it
    return days ? `T${sign}${days}d ${pad(hours)}:${time}` : `T${sign}${hours}:${time}`;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function entry(at, text, className) {
    const li = element("li", className);
    li.append(element("span", "at", at), element("span", "text", text));
    return li;
  }

  function prepend(listId, li) {
    // Newest first, in journal order: events from several threads may arrive a little out
    // of sequence, so an item goes below any that the journal wrote after it.
    const list = $(listId);
    const empty = list.querySelector("li.empty");
    if (empty) empty.remove();
    const seq = Number(li.dataset.seq || 0);
    let before = list.firstElementChild;
    while (before && Number(before.dataset.seq || 0) > seq) before = before.nextElementSibling;
    list.insertBefore(li, before);
    while (list.children.length > LIMIT) list.lastElementChild.remove();
  }

  function placeholder(listId, text) {
    const list = $(listId);
    if (!list.children.length) list.append(element("li", "empty", text));
  }

  function addItem(item) {
    if (item.id <= lastId) return;
    lastId = item.id;
    const classes = ["fresh", item.lane.toLowerCase()];
    if (/FAILED|refused|DOWN/.test(item.text)) classes.push("failed");
    const li = entry(item.clock, item.text, classes.join(" "));
    li.dataset.kind = item.kind;
    li.dataset.seq = item.seq;
    if (item.inject) li.dataset.inject = item.inject;
    prepend(LISTS[item.lane] || "run-log", li);
    if (item.private !== undefined) addCue(item);
    if (item.kind === "run.paused" || item.kind === "run.resumed") {
      if (state) {
        state.paused = item.kind === "run.paused";
        state.t = item.t;
        stateAt = performance.now();
        showState();
      }
    }
  }

  function addCue(item) {
    const card = element("div", "cue");
    const details = element("details");
    details.append(element("summary", null, `${item.clock}  ${item.type}: ${item.text}`));
    details.append(element("pre", null, item.private));
    card.append(details);
    if (item.audio) {
      const audio = element("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = item.audio;
      card.append(audio);
    }
    $("cues").prepend(card);
  }

  function setState(next) {
    state = next;
    stateAt = performance.now();
    showState();
    showComing(next.pending);
    showScore(next.score);
    if (next.ended && !ended) {
      ended = true;
      source.close();
      for (const button of document.querySelectorAll("#controls button")) button.disabled = true;
      feedback(`The run has ended (${next.ended}). The score and reports are in the run directory.`);
    }
  }

  function currentT() {
    if (!state) return 0;
    if (state.paused || state.ended || !state.rate) return state.t;
    // Between two ticks the clock moves at the run's speed; never far past the last tick.
    const elapsed = Math.min((performance.now() - stateAt) / 1000, 2.5);
    return state.t + elapsed * state.rate;
  }

  function showState() {
    $("clock").textContent = clockText(currentT());
    const badge = $("run-state");
    badge.className = "run-state";
    if (state.ended) {
      badge.textContent = `ended — ${state.ended}`;
      badge.classList.add("ended");
    } else if (state.paused) {
      badge.textContent = "paused";
      badge.classList.add("paused");
    } else {
      badge.textContent = "running";
    }
    if (!ended) {
      $("pause").disabled = state.paused;
      $("resume").disabled = !state.paused;
    }
  }

  function showComing(pending) {
    const list = $("coming");
    list.replaceChildren();
    for (const p of pending) {
      const when = p.clock !== null ? p.clock : `after ${p.after}`;
      list.append(entry(when, `${p.type || "inject"} · ${p.id}`));
    }
    placeholder("coming", "nothing left to send");
  }

  function showScore(score) {
    if (!score) return;
    const value = $("score");
    value.textContent = `${Math.round(score.score)} / 100`;
    value.className = "score " + (score.passed ? "passing" : "failing");
    const penalties = score.penalties.reduce((sum, p) => sum + p.points, 0);
    $("score-line").textContent =
      `pass mark ${score.pass_mark} · ${score.passed ? "passing" : "not passing yet"}` +
      (penalties ? ` · penalties −${Math.round(penalties)}` : "");
    const body = $("steps").tBodies[0];
    body.replaceChildren();
    for (const step of score.steps) {
      const row = element("tr");
      row.dataset.step = step.id;
      row.dataset.status = step.status;
      const chip = element("span", `chip ${step.status}`, step.status);
      const status = element("td");
      status.append(chip);
      const title = step.title + (step.manual ? " (manual)" : "") + (step.critical ? " *" : "");
      row.append(
        element("td", "phase", step.phase), element("td", null, title), status,
        element("td", "at", step.at || ""),
        element("td", null, `${Math.round(step.awarded)}/${step.points}`),
      );
      body.append(row);
    }
    const list = $("penalties");
    list.replaceChildren();
    for (const p of score.penalties) list.append(entry(`−${Math.round(p.points)}`, p.title));
    markable(score.steps);
  }

  function markable(steps) {
    const select = $("mark-step");
    const chosen = select.value;
    const open = steps.filter((s) => s.manual && s.status !== "success" && s.status !== "partial");
    select.replaceChildren();
    for (const step of open) {
      const option = element("option", null, step.title);
      option.value = step.id;
      select.append(option);
    }
    if (open.some((s) => s.id === chosen)) select.value = chosen;
    $("mark").disabled = ended || !open.length;
    select.disabled = ended || !open.length;
  }

  function feedback(text, refused) {
    const box = $("feedback");
    box.textContent = text;
    box.className = refused ? "feedback refused" : "feedback";
  }

  async function command(body) {
    feedback(`${body.command}…`);
    try {
      const response = await fetch("command", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const reply = await response.json();
      feedback(reply.message, !reply.ok);
      return reply.ok;
    } catch (error) {
      feedback(`${body.command}: the run did not answer (${error})`, true);
      return false;
    }
  }

  for (const id of ["pause", "resume", "fire-next"]) {
    $(id).addEventListener("click", () => command({ command: $(id).dataset.command }));
  }
  $("mark").addEventListener("click", () => {
    if ($("mark-step").value) command({ command: "mark", step: $("mark-step").value });
  });
  $("note").addEventListener("click", async () => {
    const text = $("note-text").value.trim();
    if (text && (await command({ command: "note", text }))) $("note-text").value = "";
  });
  let armed = null;
  $("end").addEventListener("click", () => {
    const button = $("end");
    if (armed === null) {
      // Ending cannot be undone: the first press arms the button, the second ends the run.
      button.classList.add("armed");
      button.textContent = "Press again to end";
      armed = setTimeout(() => {
        armed = null;
        button.classList.remove("armed");
        button.textContent = "End exercise";
      }, 5000);
      return;
    }
    clearTimeout(armed);
    armed = null;
    button.classList.remove("armed");
    button.textContent = "End exercise";
    command({ command: "end" });
  });

  const projector = $("projector");
  projector.checked = localStorage.getItem("gameday.projector") === "on";
  document.body.classList.toggle("projector", projector.checked);
  projector.addEventListener("change", () => {
    document.body.classList.toggle("projector", projector.checked);
    localStorage.setItem("gameday.projector", projector.checked ? "on" : "off");
  });

  markable(config.steps.map((s) => ({ ...s, status: "pending" })));
  for (const [id, text] of [["coming", "…"], ["fired", "nothing sent yet"],
                            ["attacker", "no activity seen"], ["responders", "no calls yet"]]) {
    placeholder(id, text);
  }

  const source = new EventSource("events");
  source.addEventListener("item", (e) => addItem(JSON.parse(e.data)));
  source.addEventListener("state", (e) => setState(JSON.parse(e.data)));
  source.addEventListener("error", () => {
    if (!ended) feedback("connection to the run lost — retrying…", true);
  });
  source.addEventListener("open", () => {
    if (!ended && $("feedback").textContent.startsWith("connection")) feedback("");
  });
  setInterval(() => { if (state) $("clock").textContent = clockText(currentT()); }, 250);
})();
