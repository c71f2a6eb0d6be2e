// Images removed on request (a data-subject removal): their pixels are gone,
// so the workspace says so and moves on instead of retrying to open them. The
// batch's items say which were removed when it loads; one removed while the
// page is open is recognised by the API's 410 Gone when its images fail.

import { ApiError, apiFetch } from './api.js';
import { apiUrl, changed } from './state.js';

export const REMOVED_TEXT = 'This image was removed on request; its boxes are kept.';

/** Whether `item` is removed; asks the API once its images failed to open. */
export async function checkRemoved(item) {
  if (!item || item.removed) return Boolean(item);
  try {
    await apiFetch('GET', apiUrl('items', item.blind_name, 'annotations'));
    return false;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 410)) return false;
    item.removed = true;
    changed('removed');
    return true;
  }
}

/** The index of the first item from `index` on, stepping by `step`, that can be shown; -1 if none. */
export function shownFrom(items, index, step) {
  for (let i = index; i >= 0 && i < items.length; i += step) {
    if (!items[i].removed) return i;
  }
  return -1;
}
