// CSV export with progress: a link marked data-export-progress="<status element id>" is
// fetched as a stream; the page counts the rows as they arrive and saves the file when it
// is complete. Ctrl/Cmd-click or middle-click still downloads the plain way.
(function () {
  function expectedRows(link) {
    var counter = document.getElementById(link.getAttribute("data-count-from"));
    var digits = counter ? counter.textContent.replace(/[^0-9]/g, "") : "";
    return digits ? Number(digits) : null;
  }

  function filenameOf(response) {
    var header = response.headers.get("Content-Disposition") || "";
    var match = /filename="([^"]+)"/.exec(header);
    return match ? match[1] : "tasks.csv";
  }

  function save(parts, filename) {
    var url = URL.createObjectURL(new Blob(parts, { type: "text/csv" }));
    var anchor = document.createElement("a");
    anchor.href = url;
    anchor.download = filename;
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  async function exportWithProgress(link, status) {
    var total = expectedRows(link);
    var response = await fetch(link.href, { credentials: "same-origin" });
    if (!response.ok) {
      var body = await response.json().catch(function () { return {}; });
      status.textContent = "Export failed: " + (body.error || response.status);
      return;
    }
    var reader = response.body.getReader();
    var parts = [];
    var lines = 0;
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      parts.push(chunk.value);
      for (var i = 0; i < chunk.value.length; i++) {
        if (chunk.value[i] === 10) lines++;
      }
      // newlines inside quoted values make this an estimate, so it is capped at the total
      var rows = Math.max(0, lines - 1);
      if (total !== null) rows = Math.min(rows, total);
      status.textContent = "Exporting… " + rows.toLocaleString() +
        (total !== null ? " of " + total.toLocaleString() : "") + " rows";
    }
    save(parts, filenameOf(response));
    status.textContent = "Exported " + (total !== null ? total : Math.max(0, lines - 1))
      .toLocaleString() + " rows to " + filenameOf(response);
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-export-progress]");
    if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var status = document.getElementById(link.getAttribute("data-export-progress"));
    if (!status || !window.fetch || !window.ReadableStream) return;
    event.preventDefault();
    status.textContent = "Starting the export…";
    exportWithProgress(link, status).catch(function (error) {
      status.textContent = "Export failed: " + error;
    });
  });
})();
