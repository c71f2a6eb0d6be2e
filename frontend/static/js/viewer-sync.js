// Keeps two OpenSeadragon viewers showing the same image region.
//
// Only the viewer the user is working with (the "leader": last press or wheel
// input, or whatever the caller names) pushes its view to the other one. The
// follower's own viewport-change events, caused by being moved, are ignored,
// so the two can never bounce updates back and forth.

export class ViewerSync {
  constructor(a, b) {
    this.viewers = [a, b];
    this.leader = a;
    this.enabled = true;
    this._applying = false;

    for (const viewer of this.viewers) {
      const claim = () => {
        this.leader = viewer;
      };
      // Capture phase: OpenSeadragon may stop these events at its canvas.
      // Hovering does not count: it would steal the lead from an animation
      // the other viewer is still running.
      for (const type of ['pointerdown', 'wheel']) {
        viewer.element.addEventListener(type, claim, { capture: true, passive: true });
      }
      viewer.addHandler('viewport-change', () => this._follow(viewer));
    }
  }

  /** Make `viewer` the one whose view the other follows. */
  lead(viewer) {
    this.leader = viewer;
  }

  /** Copy the leader's current view to the other viewer at once. */
  syncNow(from = this.leader) {
    const to = this.viewers[0] === from ? this.viewers[1] : this.viewers[0];
    if (!this.enabled || !from.viewport || !to.viewport || to.world.getItemCount() === 0) return;
    this._applying = true;
    try {
      to.viewport.zoomTo(from.viewport.getZoom(), null, true);
      to.viewport.panTo(from.viewport.getCenter(), true);
    } finally {
      this._applying = false;
    }
  }

  _follow(viewer) {
    if (this._applying || viewer !== this.leader) return;
    this.syncNow(viewer);
  }
}
