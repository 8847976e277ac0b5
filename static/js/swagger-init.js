// Start Swagger UI on /api/v1/docs. Kept out of the page so the CSP needs no inline
// script; the page gives the spec's URL and any OPENAPI_SWAGGER_UI_CONFIG as data.
function start() {
  var root = document.querySelector("[data-swagger-ui]");
  if (!root || !window.SwaggerUIBundle) return;
  var config = {
    url: root.dataset.specUrl,
    dom_id: "#" + root.id,
    // The default asks validator.swagger.io for a badge: nothing leaves this site.
    validatorUrl: null
  };
  var extra = JSON.parse(root.dataset.config || "{}");
  Object.keys(extra).forEach(function (name) { config[name] = extra[name]; });
  window.ui = window.SwaggerUIBundle(config);
}

start();
