// Everything a labeler can do in the workspace, once: the keys, the buttons
// (by data-action) and the shortcut help all read this table, so a key, its
// button and its line in the help cannot drift apart.
//
// Each action: id; keys (chords, see keys.js); label (help line and button
// title); group (help section); run(ws); enabled(ws), without which the key
// does nothing and the button is disabled; optionally pressed(ws) for toggle
// buttons (aria-pressed / aria-expanded); hint(ws), a word flashed when the
// key is pressed while the action is disabled; repeat: true to act on
// auto-repeat while the key is held. `ws` is the workspace's facade (workspace.js); the
// table itself touches no page, so it is unit-tested in Node.

const always = () => true;
const hasImage = (ws) => ws.hasImage();
const canEdit = (ws) => ws.hasImage() && ws.canEdit();

export const ZOOM_STEP = 1.4;

export const ACTIONS = [
  // The image
  {
    id: 'flip',
    group: 'Image',
    keys: ['Space'],
    label: 'Flip original / reconstruction',
    run: (ws) => ws.flip(),
    enabled: hasImage,
  },
  {
    id: 'prev',
    group: 'Image',
    keys: ['ArrowLeft'],
    label: 'Previous image',
    run: (ws) => ws.goBy(-1),
    enabled: (ws) => ws.hasImage() && ws.index() > 0,
  },
  {
    id: 'next',
    group: 'Image',
    keys: ['ArrowRight'],
    label: 'Next image',
    run: (ws) => ws.goBy(1),
    enabled: (ws) => ws.hasImage() && ws.index() < ws.count() - 1,
  },
  {
    id: 'diff',
    group: 'Image',
    keys: ['D'],
    label: 'Difference map beside the image',
    run: (ws) => ws.toggleDiff(),
    enabled: hasImage,
    pressed: (ws) => ws.diffVisible(),
  },
  {
    id: 'zoom-in',
    group: 'Image',
    keys: ['+', '='],
    label: 'Zoom in',
    run: (ws) => ws.zoomBy(ZOOM_STEP),
    enabled: hasImage,
    repeat: true,
  },
  {
    id: 'zoom-out',
    group: 'Image',
    keys: ['-', '_'],
    label: 'Zoom out',
    run: (ws) => ws.zoomBy(1 / ZOOM_STEP),
    enabled: hasImage,
    repeat: true,
  },
  {
    id: 'fit',
    group: 'Image',
    keys: ['0'],
    label: 'Fit the image to the window',
    run: (ws) => ws.fit(),
    enabled: hasImage,
  },
  {
    id: 'fullscreen',
    group: 'Image',
    keys: ['F'],
    label: 'Full screen',
    run: (ws) => ws.toggleFullscreen(),
    enabled: always,
    pressed: (ws) => ws.isFullscreen(),
  },
  // The boxes
  {
    id: 'draw',
    group: 'Boxes',
    keys: ['B'],
    label: 'Drawing mode on / off',
    run: (ws) => ws.setDrawMode(!ws.drawMode()),
    enabled: canEdit,
    pressed: (ws) => ws.drawMode(),
  },
  {
    id: 'hide-annotations',
    group: 'Boxes',
    keys: ['A'],
    label: 'Hide / show the boxes, to see the pixels under them',
    run: (ws) => ws.toggleAnnotationsHidden(),
    enabled: hasImage,
    pressed: (ws) => ws.annotationsHidden(),
  },
  {
    id: 'delete',
    group: 'Boxes',
    keys: ['Delete', 'Backspace'],
    label: 'Delete the selected box',
    run: (ws) => ws.deleteSelected(),
    enabled: (ws) => canEdit(ws) && ws.hasSelection(),
  },
  {
    id: 'undo',
    group: 'Boxes',
    keys: ['Ctrl+Z'],
    label: 'Undo the last box change',
    run: (ws) => ws.undo(),
    enabled: (ws) => canEdit(ws) && ws.canUndo(),
    hint: (ws) => (canEdit(ws) ? 'Nothing to undo' : null),
  },
  {
    id: 'redo',
    group: 'Boxes',
    keys: ['Ctrl+Shift+Z', 'Ctrl+Y'],
    label: 'Redo the box change just undone',
    run: (ws) => ws.redo(),
    enabled: (ws) => canEdit(ws) && ws.canRedo(),
    hint: (ws) => (canEdit(ws) ? 'Nothing to redo' : null),
  },
  // The review
  {
    id: 'done',
    group: 'Review',
    keys: ['Enter'],
    label: 'Mark the image done and go to the next',
    run: (ws) => ws.doneAndNext(),
    enabled: canEdit,
  },
  {
    id: 'multi',
    group: 'Review',
    keys: ['M'],
    label: 'Flag as multi-miscompression',
    run: (ws) => ws.toggleMulti(),
    enabled: canEdit,
  },
  // Panels
  {
    id: 'tree',
    group: 'Panels',
    keys: ['H'],
    label: 'Decision tree',
    run: (ws) => ws.toggleDialog('tree'),
    enabled: always,
    pressed: (ws) => ws.dialogOpen('tree'),
  },
  {
    id: 'panel',
    group: 'Panels',
    keys: ['P'],
    label: 'Show / hide the side panel',
    run: (ws) => ws.toggleSidePanel(),
    enabled: always,
    pressed: (ws) => ws.sidePanelShown(),
  },
  {
    id: 'help',
    group: 'Panels',
    keys: ['?'],
    label: 'This help',
    run: (ws) => ws.toggleDialog('help'),
    enabled: always,
    pressed: (ws) => ws.dialogOpen('help'),
  },
  {
    id: 'escape',
    group: 'Panels',
    keys: ['Escape'],
    label: 'Cancel, close panels, leave a text field',
    run: (ws) => ws.escape(),
    enabled: always,
  },
];

/** Pointer input, listed in the help beside the keys of its group. */
export const GESTURES = [
  { group: 'Image', input: 'wheel / drag', label: 'Zoom / pan' },
  { group: 'Boxes', input: 'Shift + drag', label: 'Draw a box in any mode' },
  { group: 'Boxes', input: 'click / drag a box', label: 'Select / move; drag a corner to resize' },
];
