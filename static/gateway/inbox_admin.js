// The Inbox admin's "Copy" buttons (templates/admin/imsubsystem/inbox/change_form.html): copy the value of
// the read-only input they name. A file of its own: the pages' CSP allows no inline script.
"use strict";
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.setup-copy");
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  if (!input) return;
  const done = () => {
    button.textContent = button.dataset.copied;
  };
  input.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(input.value).then(done, () => {
      document.execCommand("copy");
      done();
    });
  } else {
    document.execCommand("copy");
    done();
  }
});

// A WhatsApp inbox shows the fields of the provider it uses (Meta's Cloud API or Twilio); the form still
// takes both, and checks only the chosen one's.
document.addEventListener("DOMContentLoaded", () => {
  const provider = document.getElementById("id_provider");
  if (!provider) return;
  const section = (field) => document.querySelector(`.field-${field}`)?.closest("fieldset");
  const cloud = section("phone_number_id");
  const twilio = section("account_sid");
  const show = () => {
    if (cloud) cloud.hidden = provider.value !== "cloud";
    if (twilio) twilio.hidden = provider.value !== "twilio";
  };
  provider.addEventListener("change", show);
  show();
});
