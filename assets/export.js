// CSV export with progress: a link marked data-export-progress="<status element id>" is
// fetched as a stream; the page counts the file's records as they arrive and saves the file
// when it is complete, so the count it reports is the file's own, whatever arrived in the
// store meanwhile. Ctrl/Cmd-click or middle-click still downloads the plain way.
(function () {
  var QUOTE = 34, NEWLINE = 10;
  var INCOMPLETE = "# export incomplete";

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

  // Records end at a newline outside quotes; a quote inside a value is doubled, which
  // toggles twice, so one flag over the bytes tells where every record ends.
  function recordCounter() {
    var quoted = false, records = 0;
    return {
      feed: function (bytes) {
        for (var i = 0; i < bytes.length; i++) {
          if (bytes[i] === QUOTE) quoted = !quoted;
          else if (bytes[i] === NEWLINE && !quoted) records++;
        }
      },
      rows: function () { return Math.max(0, records - 1); }  // the header is no row
    };
  }

  function tail(parts) {  // the file's last characters, across the last two chunks
    var text = parts.slice(-2).map(function (part) {
      return new TextDecoder().decode(part.slice(Math.max(0, part.length - 200)));
    }).join("");
    return text.slice(-200);
  }

  async function exportWithProgress(link, status) {
    var response = await fetch(link.href, { credentials: "same-origin" });
    if (!response.ok) {
      var body = await response.json().catch(function () { return {}; });
      status.textContent = "Export failed: " + (body.error || response.status);
      return;
    }
    var reader = response.body.getReader();
    var parts = [];
    var counter = recordCounter();
    for (;;) {
      var chunk = await reader.read();
      if (chunk.done) break;
      parts.push(chunk.value);
      counter.feed(chunk.value);
      status.textContent = "Exporting… " + counter.rows().toLocaleString() + " rows";
    }
    var last = tail(parts), end = last.lastIndexOf(INCOMPLETE);
    if (end >= 0) {
      status.textContent = "Export failed: " + last.slice(end + 2).trim();
      return;
    }
    save(parts, filenameOf(response));
    status.textContent = "Exported " + counter.rows().toLocaleString() + " rows to " +
      filenameOf(response);
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
