// A filter that applies itself: a <select data-envio-automatico> submits its form when it changes.
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.matches && field.matches("[data-envio-automatico]") && field.form) { field.form.submit(); }
});
