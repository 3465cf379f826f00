// Popup menus in the WAI-ARIA "menu button" pattern: the menu opens next to its button with
// the first item focused; arrows, Home and End move; Escape closes and gives the focus back
// to the button; Tab or a click elsewhere closes it.
/** @type {{ menu: HTMLElement, button: HTMLElement, onClose: (() => void) | null } | null} */
let current = null;

/** The menu's items (buttons) that can take the focus. @param {HTMLElement} menu */
function items(menu) {
  const all = /** @type {HTMLButtonElement[]} */ ([...menu.querySelectorAll('[role="menuitem"], button')]);
  return all.filter((el) => !el.hidden && !el.disabled);
}

export function closeMenu(returnFocus = false) {
  if (!current) return;
  const { menu, button, onClose } = current;
  current = null;
  menu.hidden = true;
  button.setAttribute("aria-expanded", "false");
  if (returnFocus) button.focus();
  if (onClose) onClose();
}

/** @param {HTMLElement} menu @param {HTMLElement} button @param {(() => void) | null} [onClose] */
export function openMenu(menu, button, onClose = null) {
  closeMenu();
  menu.hidden = false;
  place(menu, button);
  button.setAttribute("aria-expanded", "true");
  current = { menu, button, onClose };
  const first = items(menu)[0];
  if (first) first.focus();
}

// Next to its button: below it, or above it when there is no room below.
/** @param {HTMLElement} menu @param {HTMLElement} button */
function place(menu, button) {
  const r = button.getBoundingClientRect();
  const w = menu.offsetWidth, h = menu.offsetHeight;
  const left = Math.max(8, Math.min(window.innerWidth - w - 8, r.right - w));
  let top = r.bottom + 4;
  if (top + h > window.innerHeight - 8) top = Math.max(8, r.top - h - 4);
  menu.style.left = `${left}px`;
  menu.style.top = `${top}px`;
}

// The area under the open menu's button scrolled: the menu moves with its button while the
// button stays wholly inside `box` (a DOMRect), and closes once it does not.
/** @param {DOMRect} box */
export function followButton(box) {
  if (!current) return;
  const b = current.button.getBoundingClientRect();
  if (b.height > 0 && b.top >= box.top && b.bottom <= box.bottom) place(current.menu, current.button);
  else closeMenu(false);
}

/** @param {HTMLElement} menu */
export function isOpen(menu) { return !!current && current.menu === menu; }

// The keys, a press elsewhere and a resize; attached once, at start.
export function initMenus() {
  document.addEventListener("keydown", (ev) => {
    if (!current) return;
    const list = items(current.menu);
    const i = list.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    /** @param {number} n */
    const go = (n) => { ev.preventDefault(); list[(n + list.length) % list.length].focus(); };
    switch (ev.key) {
      case "ArrowDown": go(i + 1); break;
      case "ArrowUp": go(i - 1); break;
      case "Home": go(0); break;
      case "End": go(list.length - 1); break;
      case "Escape": ev.preventDefault(); closeMenu(true); break;
      case "Tab": closeMenu(false); break;
      default: break;
    }
  });

  document.addEventListener("pointerdown", (ev) => {
    if (!current) return;
    const target = /** @type {Node | null} */ (ev.target);
    if (current.menu.contains(target) || current.button.contains(target)) return;
    closeMenu(false);
  });
  window.addEventListener("resize", () => closeMenu(false));
}
