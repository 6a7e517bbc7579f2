// Cell renderers for dash-ag-grid. Values are rendered as text (React escapes them):
// worker names come from events and are untrusted.
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
  window.dashAgGridComponentFunctions || {});

// A pinned row (a grid's Total) names no worker or task: its cells are plain text.
function isPinned(props) {
  return !!(props.node && props.node.rowPinned);
}

// A link to the page of the cell's value (a worker or a task), under the app's path prefix.
function pageLink(section, className) {
  return function (props) {
    if (props.value == null) {
      return null;
    }
    if (isPinned(props)) {
      return React.createElement("span", { className: "pinned-label" }, String(props.value));
    }
    var prefix = (props.prefix || "/").replace(/\/?$/, "/");
    return React.createElement(
      "a",
      { href: prefix + section + "/" + encodeURIComponent(props.value), className: className },
      String(props.value)
    );
  };
}

dagcomponentfuncs.WorkerLink = pageLink("workers", "worker-link");
dagcomponentfuncs.TaskLink = pageLink("tasks", "task-link");

dagcomponentfuncs.StatusBadge = function (props) {
  var value = String(props.value || "");
  if (isPinned(props)) {
    return React.createElement("span", { className: "muted" }, value);
  }
  return React.createElement("span", { className: "badge badge-" + value }, value);
};

// A button in a grid row: clicking sets the grid's cellRendererData to the row's value,
// which a Dash callback turns into an action. Re-rendering rows never fires it.
dagcomponentfuncs.RowActionButton = function (props) {
  return React.createElement(
    "button",
    {
      className: "button small",
      disabled: !!props.disabled,
      onClick: function () {
        props.setData(props.value);
      },
    },
    props.label || "Run"
  );
};
