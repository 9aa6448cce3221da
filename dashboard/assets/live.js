// The live log: asks the dashboard for the rows after the last one shown and appends them,
// once a second (a fifth of that while whole pages come), keeping the last KEPT rows.
// Served by the dashboard itself; the page works without it.
"use strict";
(function () {
  const PAGE = 100;
  const KEPT = 1000;
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
      while (body.rows.length > KEPT) body.deleteRow(0);
      body.dataset.after = String(after);
      const empty = document.getElementById("empty");
      if (added > 0 && empty) empty.remove();
      if (live) live.hidden = false;
    } catch (error) {
      if (live) live.hidden = true;
      console.error("eventsmith live log:", error);
    }
    setTimeout(poll, added >= PAGE ? 200 : 1000);
  }

  poll();
})();
