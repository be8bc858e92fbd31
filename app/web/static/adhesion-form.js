// New adhesion: choosing a centre fills the empty services box with that centre's services.
document.addEventListener("DOMContentLoaded", function () {
  var centre = document.getElementById("centro");
  var services = document.getElementById("servicios");
  if (!centre || !services || !centre.dataset.rellenaServicios) { return; }
  centre.addEventListener("change", function () {
    var s = this.options[this.selectedIndex].dataset.servicios || "";
    if (!services.value.trim() && s) { services.value = s.trim(); }
  });
});
