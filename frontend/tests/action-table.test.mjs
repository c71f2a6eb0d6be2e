import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ACTIONS, GESTURES } from '../static/js/action-table.js';
import {
  ariaKeyShortcuts,
  chordOfEvent,
  chordText,
  duplicateChords,
  helpSections,
  keyMap,
  parseChord,
} from '../static/js/keys.js';

/** A workspace facade that records what the actions ask of it. */
function recordingWorkspace(overrides = {}) {
  const calls = [];
  const answers = {
    hasImage: true,
    canEdit: true,
    index: 1,
    count: 3,
    drawMode: false,
    hasSelection: true,
    canUndo: true,
    canRedo: true,
    ...overrides,
  };
  const ws = new Proxy(
    {},
    {
      get: (_, name) =>
        (...args) => {
          if (name in answers) return answers[name];
          calls.push([name, ...args]);
          return undefined;
        },
    },
  );
  return { ws, calls };
}

const press = (key, mods = {}) => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...mods,
});

test('every action has an id, a label, a group, keys and a handler', () => {
  const ids = new Set();
  for (const action of ACTIONS) {
    assert.ok(action.id && !ids.has(action.id), `id ${action.id} missing or repeated`);
    ids.add(action.id);
    assert.ok(action.label, `${action.id} has no label`);
    assert.ok(action.group, `${action.id} has no group`);
    assert.ok(action.keys.length > 0, `${action.id} has no key`);
    assert.equal(typeof action.run, 'function');
    assert.equal(typeof action.enabled, 'function');
  }
});

test('no key is bound twice', () => {
  assert.deepEqual(duplicateChords(ACTIONS), []);
  assert.doesNotThrow(() => keyMap(ACTIONS));
});

test('a table that binds a key twice is refused, naming both actions', () => {
  const table = [
    { id: 'one', keys: ['b'] },
    { id: 'two', keys: ['B'] },
  ];
  assert.deepEqual(duplicateChords(table), [{ chord: 'B', ids: ['one', 'two'] }]);
  assert.throws(() => keyMap(table), /B \(one, two\)/);
});

test('keys pressed reach the actions the help names', () => {
  const map = keyMap(ACTIONS);
  const cases = [
    [press(' '), 'flip', ['flip']],
    [press('ArrowLeft'), 'prev', ['goBy', -1]],
    [press('ArrowRight'), 'next', ['goBy', 1]],
    [press('d'), 'diff', ['toggleDiff']],
    [press('+', { shiftKey: true }), 'zoom-in', ['zoomBy', 1.4]],
    [press('='), 'zoom-in', ['zoomBy', 1.4]],
    [press('-'), 'zoom-out', ['zoomBy', 1 / 1.4]],
    [press('0'), 'fit', ['fit']],
    [press('f'), 'fullscreen', ['toggleFullscreen']],
    [press('b'), 'draw', ['setDrawMode', true]],
    [press('B', { shiftKey: true }), 'draw', ['setDrawMode', true]],
    [press('a'), 'hide-annotations', ['toggleAnnotationsHidden']],
    [press('Delete'), 'delete', ['deleteSelected']],
    [press('Backspace'), 'delete', ['deleteSelected']],
    [press('z', { ctrlKey: true }), 'undo', ['undo']],
    [press('z', { metaKey: true }), 'undo', ['undo']],
    [press('Z', { ctrlKey: true, shiftKey: true }), 'redo', ['redo']],
    [press('y', { ctrlKey: true }), 'redo', ['redo']],
    [press('Enter'), 'done', ['doneAndNext']],
    [press('m'), 'multi', ['toggleMulti']],
    [press('h'), 'tree', ['toggleDialog', 'tree']],
    [press('p'), 'panel', ['toggleSidePanel']],
    [press('?', { shiftKey: true }), 'help', ['toggleDialog', 'help']],
    [press('Escape'), 'escape', ['escape']],
  ];
  for (const [event, id, call] of cases) {
    const action = map.get(chordOfEvent(event));
    assert.equal(action && action.id, id, `${JSON.stringify(event)} should be ${id}`);
    const { ws, calls } = recordingWorkspace();
    assert.ok(action.enabled(ws));
    action.run(ws);
    assert.deepEqual(calls, [call]);
  }
  // Every action is reached by at least one of the keys above.
  assert.deepEqual(new Set(cases.map((c) => c[1])), new Set(ACTIONS.map((a) => a.id)));
});

test('browser shortcuts stay the browser\'s', () => {
  const map = keyMap(ACTIONS);
  for (const event of [
    press('r', { ctrlKey: true }),
    press('ArrowLeft', { altKey: true }),
    press('z', { altKey: true }),
    press('Tab'),
    press('F5'),
  ]) {
    assert.equal(map.get(chordOfEvent(event)), undefined, JSON.stringify(event));
  }
});

test('actions are disabled when there is nothing to act on', () => {
  const byId = Object.fromEntries(ACTIONS.map((a) => [a.id, a]));
  const none = recordingWorkspace({ hasImage: false }).ws;
  for (const id of ['flip', 'prev', 'next', 'draw', 'undo', 'redo', 'done', 'multi']) {
    assert.equal(byId[id].enabled(none), false, id);
  }
  // Help, panels and Esc work before the batch has loaded.
  for (const id of ['help', 'tree', 'panel', 'escape']) assert.equal(byId[id].enabled(none), true);

  const first = recordingWorkspace({ index: 0, count: 3 }).ws;
  const last = recordingWorkspace({ index: 2, count: 3 }).ws;
  assert.equal(byId.prev.enabled(first), false);
  assert.equal(byId.next.enabled(last), false);
  assert.equal(byId.undo.enabled(recordingWorkspace({ canUndo: false }).ws), false);
  assert.equal(byId.redo.enabled(recordingWorkspace({ canRedo: false }).ws), false);
  assert.equal(byId.delete.enabled(recordingWorkspace({ hasSelection: false }).ws), false);
  // Someone else's work, reviewed read-only: nothing that edits.
  const readOnly = recordingWorkspace({ canEdit: false }).ws;
  for (const id of ['draw', 'delete', 'undo', 'redo', 'done', 'multi']) {
    assert.equal(byId[id].enabled(readOnly), false, id);
  }
  assert.equal(byId.flip.enabled(readOnly), true);
});

test('the help lists every action once, with its keys, and the gestures', () => {
  const sections = helpSections(ACTIONS, GESTURES);
  const rows = sections.flatMap((s) => s.rows);
  assert.deepEqual(
    rows.filter((r) => r.id).map((r) => r.id),
    ACTIONS.map((a) => a.id),
  );
  assert.equal(rows.filter((r) => r.gesture).length, GESTURES.length);
  const redo = rows.find((r) => r.id === 'redo');
  assert.deepEqual(redo.keys, [['Ctrl', 'Shift', 'Z'], ['Ctrl', 'Y']]);
  assert.deepEqual(rows.find((r) => r.id === 'prev').keys, [['←']]);
  assert.deepEqual(
    sections.map((s) => s.group),
    ['Image', 'Boxes', 'Review', 'Panels'],
  );
});

test('chords are spelt one way', () => {
  assert.equal(parseChord('Ctrl+z'), 'Ctrl+Z');
  assert.equal(parseChord('Shift+Ctrl+Z'), 'Ctrl+Shift+Z');
  assert.equal(parseChord('+'), '+');
  assert.equal(parseChord('Ctrl++'), 'Ctrl++');
  assert.throws(() => parseChord('Shift+B'), /Shift alone/);
  assert.equal(chordText('Ctrl+Shift+Z'), 'Ctrl + Shift + Z');
  assert.equal(chordText('-'), '−');
  assert.equal(ariaKeyShortcuts(['Ctrl+Shift+Z', 'Ctrl+Y']), 'Control+Shift+Z Control+Y');
});
