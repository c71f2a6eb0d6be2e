// Puts the action table on the page: one keydown listener looks keys up in
// it, every button with data-action="<id>" runs its action (its title and
// aria-keyshortcuts come from the table), and the key help is rendered from it.

import { flash } from './messages.js';
import { ariaKeyShortcuts, chordOfEvent, chordText, helpSections, keyMap } from './keys.js';

const NOT_TEXT_INPUTS = ['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'];

function isTextField(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true;
  if (target instanceof HTMLSelectElement) return true;
  return target instanceof HTMLInputElement && !NOT_TEXT_INPUTS.includes(target.type);
}

/** Elements that Space and Enter press themselves when focused. */
function isActivatable(target) {
  return (
    target instanceof HTMLButtonElement ||
    target instanceof HTMLAnchorElement ||
    (target instanceof HTMLElement && target.tagName === 'SUMMARY') ||
    (target instanceof HTMLInputElement && ['checkbox', 'radio'].includes(target.type))
  );
}

function kbd(parts) {
  const span = document.createElement('span');
  span.className = 'chord';
  parts.forEach((part, i) => {
    if (i > 0) span.append(' + ');
    const k = document.createElement('kbd');
    k.textContent = part;
    span.append(k);
  });
  return span;
}

/** Fill `table` (the help's <table>) with one section per group of the table. */
export function renderHelp(table, actions, gestures) {
  table.replaceChildren();
  for (const section of helpSections(actions, gestures)) {
    const body = document.createElement('tbody');
    const head = document.createElement('tr');
    const th = document.createElement('th');
    th.colSpan = 2;
    th.scope = 'colgroup';
    th.className = 'key-group';
    th.textContent = section.group;
    head.append(th);
    body.append(head);
    for (const row of section.rows) {
      const tr = document.createElement('tr');
      if (row.id) tr.dataset.action = row.id;
      const keys = document.createElement('th');
      keys.scope = 'row';
      if (row.gesture) {
        keys.textContent = row.gesture;
      } else {
        row.keys.forEach((parts, i) => {
          if (i > 0) keys.append(' / ');
          keys.append(kbd(parts));
        });
      }
      const label = document.createElement('td');
      label.textContent = row.label;
      tr.append(keys, label);
      body.append(tr);
    }
    table.append(body);
  }
}

/**
 * Bind `actions` to the keyboard and to the page's [data-action] buttons.
 * Returns refresh(), which brings every button's disabled and pressed state
 * up to date: call it after any change of state.
 */
export function bindActions(actions, ws, { root, helpTable, gestures }) {
  const byKey = keyMap(actions);
  const byId = new Map(actions.map((a) => [a.id, a]));
  const buttons = [];

  for (const button of root.querySelectorAll('[data-action]')) {
    const action = byId.get(button.dataset.action);
    if (!action) throw new Error(`No action "${button.dataset.action}" for a button`);
    buttons.push([button, action]);
    button.title = `${action.label} (${action.keys.map(chordText).join(' or ')})`;
    button.setAttribute('aria-keyshortcuts', ariaKeyShortcuts(action.keys));
    button.addEventListener('click', () => {
      if (action.enabled(ws)) action.run(ws);
    });
    // Clicking must not move focus onto the button, where Space would press it
    // again instead of flipping the image.
    button.addEventListener('mousedown', (e) => e.preventDefault());
  }

  document.addEventListener('keydown', (e) => {
    const target = e.target;
    if (isTextField(target)) {
      if (e.key === 'Escape') target.blur();
      return;
    }
    const action = byKey.get(chordOfEvent(e));
    // Unbound keys stay the browser's; a focused button or checkbox keeps its
    // own Space and Enter.
    if (!action) return;
    if ((e.key === ' ' || e.key === 'Enter') && isActivatable(target)) return;
    e.preventDefault();
    if (e.repeat && !action.repeat) return;
    if (action.enabled(ws)) {
      action.run(ws);
    } else if (action.hint && !e.repeat) {
      const hint = action.hint(ws);
      if (hint) flash(hint);
    }
  });

  renderHelp(helpTable, actions, gestures);

  return function refresh() {
    for (const [button, action] of buttons) {
      const enabled = action.enabled(ws);
      if (button.disabled === enabled) button.disabled = !enabled;
      if (action.pressed) {
        const attribute = button.hasAttribute('aria-expanded') ? 'aria-expanded' : 'aria-pressed';
        button.setAttribute(attribute, String(Boolean(action.pressed(ws))));
      }
    }
  };
}
