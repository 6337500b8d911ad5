// Start Swagger UI on /docs with the settings the page carries (no inline script: see docs.py).
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui-container");
  var config = JSON.parse(root.dataset.config || "{}");
  config.url = root.dataset.specUrl;
  config.dom_id = "#swagger-ui-container";
  window.ui = SwaggerUIBundle(config);
}());
