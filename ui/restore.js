// Which resource the Restore dialog belongs to. Opening it asks for the resource's versions
// first, and a person can choose Restore… on another row before that answer comes. Each
// opening is a ticket that holds its own resource; only the newest ticket may fill and show
// the dialog, so a late answer for an earlier row is dropped, and the confirm button always
// restores the resource whose name the dialog shows. No DOM here: app.js draws.

/** An opening of the dialog, for one resource. @typedef {{ n: number, id: string, name: string }} Ticket */

export function restoreDialog() {
  let newest = 0; // the number of the latest opening
  /** The opening the dialog is showing, once accepted. @type {Ticket | null} */
  let shown = null;

  return {
    // Restore… was chosen on a row: a ticket for this opening. Any earlier one is stale now.
    /** @param {{ id: string, name: string }} resource @returns {Ticket} */
    open(resource) {
      newest += 1;
      return { n: newest, id: resource.id, name: resource.name };
    },

    // Whether a later opening has replaced this ticket: its answer (versions or error) is
    // then dropped.
    /** @param {Ticket | null} ticket */
    stale(ticket) { return !ticket || ticket.n !== newest; },

    // The ticket's versions arrived. True only for the newest opening; the dialog then
    // belongs to the ticket's resource until the next opening.
    /** @param {Ticket | null} ticket */
    accept(ticket) {
      if (!ticket || ticket.n !== newest) return false;
      shown = { n: ticket.n, id: ticket.id, name: ticket.name };
      return true;
    },

    // The resource the dialog shows now (null before any opening was accepted).
    shown() { return shown && { id: shown.id, name: shown.name }; },

    // The Restore button, for a ticket's dialog with `version` picked: what to restore, or
    // null when that dialog is no longer the one shown or nothing is picked. The id is the
    // ticket's own, which is the resource named in the dialog's title.
    /** @param {Ticket | null} ticket @param {string} version */
    confirm(ticket, version) {
      if (!ticket || !shown || shown.n !== ticket.n || ticket.n !== newest || !version) return null;
      return { id: shown.id, name: shown.name, version };
    },
  };
}
