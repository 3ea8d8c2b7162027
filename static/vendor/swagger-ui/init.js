// Starts Swagger UI for /api/v1/docs (ours, not part of swagger-ui-dist): the settings come
// from the page, and session requests carry the CSRF token the page was rendered with.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("swagger-settings").textContent);
  var csrf = document.body.getAttribute("data-csrf-token");
  config.dom_id = "#swagger-ui";
  config.presets = [SwaggerUIBundle.presets.apis];
  if (csrf) {
    config.requestInterceptor = function (req) {
      req.headers["X-CSRFToken"] = csrf;
      return req;
    };
  }
  window.ui = SwaggerUIBundle(config);
})();
