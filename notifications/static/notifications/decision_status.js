// A notification's status as every page shows it (the audit page, the console's people page):
// its words, and the class that colours it, `status-<status>`, or `status-unknown` for a status
// this script does not know, which is shown as it came.
(function () {
  "use strict";

  var LABELS = {
    sent: "sent",
    scheduled: "scheduled",
    suppressed: "suppressed",
    not_matched: "not matched",
    cancelled: "cancelled",
    failed: "failed",
  };

  window.decisionStatus = function (status) {
    var known = Object.prototype.hasOwnProperty.call(LABELS, status);
    return {
      label: known ? LABELS[status] : String(status),
      className: "status-" + (known ? status : "unknown"),
    };
  };
})();
