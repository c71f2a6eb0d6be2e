// Messages over the image: what went wrong or what a key did, in words the
// labeler can act on. One message at a time; a flash clears itself.

const FLASH_MS = 1500;

const messageArea = document.getElementById('viewer-message');
let flashTimer = null;

/** Show `text` until hideMessage() or the next message. */
export function showMessage(text) {
  clearTimeout(flashTimer);
  messageArea.textContent = text;
  messageArea.hidden = false;
}

export function hideMessage() {
  clearTimeout(flashTimer);
  messageArea.hidden = true;
}

/** A short-lived hint, e.g. "Nothing to undo". */
export function flash(text) {
  showMessage(text);
  flashTimer = setTimeout(hideMessage, FLASH_MS);
}

const noticeBox = document.getElementById('ws-notice');

/**
 * What happened to the labeler's work that she did not ask for (a box cut at
 * the image's edge or refused, an image removed on request). It stays until
 * the next notice or the next image, as it is not a hint she can miss.
 */
export function notify(text) {
  if (!noticeBox) return;
  noticeBox.textContent = text;
  noticeBox.hidden = false;
}

export function clearNotify() {
  if (noticeBox) noticeBox.hidden = true;
}
