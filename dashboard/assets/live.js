// The live log: asks the dashboard for the rows after the last one shown and appends them,
// at once while whole pages come, then once a second. Served by the dashboard itself; the
// page works without it.
"use strict";
(function () {
  const PAGE = 100;
  const body = document.getElementById("log");
  if (!body) return;
  const live = document.getElementById("live");
  let after = Number(body.dataset.after || "0");

  async function poll() {
    let added = 0;
    try {
      const response = await fetch("log/rows?after=" + after, { headers: { Accept: "text/html" } });
      if (!response.ok) throw new Error(response.status + " " + (await response.text()));
      const template = document.createElement("template");
      template.innerHTML = await response.text();
      for (const row of template.content.querySelectorAll("tr")) {
        row.classList.add("new");
        body.appendChild(row);
        after = Math.max(after, Number(row.dataset.position));
        added += 1;
      }
      body.dataset.after = String(after);
      const empty = document.getElementById("empty");
      if (added > 0 && empty) empty.remove();
      if (live) live.hidden = false;
    } catch (error) {
      if (live) live.hidden = true;
    }
    setTimeout(poll, added >= PAGE ? 0 : 1000);
  }

  poll();
})();
