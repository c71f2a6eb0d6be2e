// Key chords of the action table: one spelling for the table, the keyboard
// events and the help, so that a key shown in the help is the key that works.
//
// A chord is written "Ctrl+Shift+Z", "ArrowLeft", "Space", "?" or "+". Letters
// are case-blind ("B" is b and B). Shift only counts beside Ctrl or Alt: on its
// own it only changes the character ("?" is Shift+/ on many keyboards), and a
// labeler holding Shift to draw must still be able to flip. Ctrl stands for
// Cmd as well on a Mac.

const MODIFIERS = ['Ctrl', 'Alt', 'Shift'];

/** How each key reads in the help and in button titles. */
const KEY_LABELS = {
  ArrowLeft: '←',
  ArrowRight: '→',
  ArrowUp: '↑',
  ArrowDown: '↓',
  Escape: 'Esc',
  '-': '−',
};

/** ARIA's names where they differ from ours (aria-keyshortcuts). */
const ARIA_NAMES = { Ctrl: 'Control' };

function normaliseKey(key) {
  return key.length === 1 ? key.toUpperCase() : key;
}

/** Split "Ctrl+Shift+Z" into its modifiers and key ("Ctrl++" is Ctrl and +). */
function splitChord(spec) {
  const match = /^((?:(?:Ctrl|Alt|Shift)\+)*)(.+)$/.exec(spec);
  if (!match) throw new Error(`Not a key chord: "${spec}"`);
  const modifiers = match[1] ? match[1].slice(0, -1).split('+') : [];
  return { modifiers, key: match[2] };
}

/** The one spelling of a chord, used to look it up. */
export function parseChord(spec) {
  const { modifiers, key } = splitChord(spec);
  const mods = MODIFIERS.filter((m) => modifiers.includes(m));
  if (mods.length !== modifiers.length) throw new Error(`Repeated modifier in "${spec}"`);
  if (mods.includes('Shift') && !mods.includes('Ctrl') && !mods.includes('Alt')) {
    // It could never match: see the top of this file.
    throw new Error(`Shift alone is not a modifier here: "${spec}"`);
  }
  return [...mods, normaliseKey(key)].join('+');
}

/** The chord a keydown event presses, spelt as parseChord spells it. */
export function chordOfEvent(event) {
  const ctrl = event.ctrlKey || event.metaKey;
  const mods = [];
  if (ctrl) mods.push('Ctrl');
  if (event.altKey) mods.push('Alt');
  if (event.shiftKey && (ctrl || event.altKey)) mods.push('Shift');
  const key = event.key === ' ' ? 'Space' : event.key;
  return [...mods, normaliseKey(key)].join('+');
}

/** "Ctrl+Shift+Z" as it reads in the help: the keys one by one. */
export function chordParts(spec) {
  const { modifiers, key } = splitChord(spec);
  return [...modifiers, KEY_LABELS[key] || normaliseKey(key)];
}

/** "Ctrl + Shift + Z", for a button's title. */
export function chordText(spec) {
  return chordParts(spec).join(' + ');
}

/** The value of aria-keyshortcuts for these chords. */
export function ariaKeyShortcuts(specs) {
  return specs
    .map((spec) => {
      const { modifiers, key } = splitChord(spec);
      return [...modifiers.map((m) => ARIA_NAMES[m] || m), key].join('+');
    })
    .join(' ');
}

/** Every chord that more than one action claims, with the ids claiming it. */
export function duplicateChords(actions) {
  const owners = new Map();
  for (const action of actions) {
    for (const spec of action.keys) {
      const chord = parseChord(spec);
      owners.set(chord, [...(owners.get(chord) || []), action.id]);
    }
  }
  return [...owners].filter(([, ids]) => ids.length > 1).map(([chord, ids]) => ({ chord, ids }));
}

/** chord -> action; refuses a table that binds one chord twice. */
export function keyMap(actions) {
  const duplicates = duplicateChords(actions);
  if (duplicates.length > 0) {
    const list = duplicates.map((d) => `${d.chord} (${d.ids.join(', ')})`).join('; ');
    throw new Error(`Keys bound twice: ${list}`);
  }
  const map = new Map();
  for (const action of actions) {
    for (const spec of action.keys) map.set(parseChord(spec), action);
  }
  return map;
}

/**
 * The shortcut help as data: one section per group, in table order, each row
 * an action (its keys as parts to show as <kbd>) or a pointer gesture.
 */
export function helpSections(actions, gestures = []) {
  const sections = [];
  const sectionOf = (group) => {
    let section = sections.find((s) => s.group === group);
    if (!section) {
      section = { group, rows: [] };
      sections.push(section);
    }
    return section;
  };
  for (const action of actions) {
    sectionOf(action.group).rows.push({
      id: action.id,
      keys: action.keys.map(chordParts),
      label: action.label,
    });
  }
  for (const gesture of gestures) {
    sectionOf(gesture.group).rows.push({ id: null, gesture: gesture.input, label: gesture.label });
  }
  return sections;
}
