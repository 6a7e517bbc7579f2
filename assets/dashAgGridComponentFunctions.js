// Cell renderers for dash-ag-grid. Values are rendered as text (React escapes them):
// worker names come from events and are untrusted.
var dagcomponentfuncs = (window.dashAgGridComponentFunctions =
  window.dashAgGridComponentFunctions || {});

dagcomponentfuncs.WorkerLink = function (props) {
  if (props.value == null) {
    return null;
  }
  var prefix = (props.prefix || "/").replace(/\/?$/, "/");
  return React.createElement(
    "a",
    { href: prefix + "workers/" + encodeURIComponent(props.value), className: "worker-link" },
    String(props.value)
  );
};

dagcomponentfuncs.StatusBadge = function (props) {
  var value = String(props.value || "");
  return React.createElement("span", { className: "badge badge-" + value }, value);
};

dagcomponentfuncs.TaskLink = function (props) {
  if (props.value == null) {
    return null;
  }
  var prefix = (props.prefix || "/").replace(/\/?$/, "/");
  return React.createElement(
    "a",
    { href: prefix + "tasks/" + encodeURIComponent(props.value), className: "task-link" },
    String(props.value)
  );
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
