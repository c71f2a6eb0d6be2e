// The panels around the image: the decision tree and the key help (non-modal
// dialogs, so the image stays usable while they are open) and the side panel.

import { mainViewer } from './viewers.js';
import { changed } from './state.js';

const el = (id) => document.getElementById(id);
const dialogs = { tree: el('tree-panel'), help: el('help-panel') };
const sidePanel = el('review-panel');

export const dialogOpen = (name) => dialogs[name].open;

export function toggleDialog(name) {
  const dialog = dialogs[name];
  if (dialog.open) {
    dialog.close();
  } else {
    dialog.show();
    dialog.focus({ preventScroll: true });
  }
  changed('view');
}

/** Close the help, else the tree; false when neither was open. */
export function closeDialog() {
  const open = [dialogs.help, dialogs.tree].find((d) => d.open);
  if (open) open.close();
  return Boolean(open);
}

for (const dialog of Object.values(dialogs)) {
  dialog.addEventListener('close', () => {
    mainViewer.canvas.focus({ preventScroll: true });
    changed('view');
  });
}

document.addEventListener('click', (e) => {
  const closer = e.target instanceof Element && e.target.closest('[data-close]');
  if (closer) el(closer.dataset.close).close();
});

export const sidePanelShown = () => !sidePanel.hidden;

export function toggleSidePanel() {
  sidePanel.hidden = !sidePanel.hidden;
  changed('view');
}
