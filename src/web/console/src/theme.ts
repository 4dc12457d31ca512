// Light or dark: the system's choice unless the admin picked one (remembered in this browser;
// a preference, not a secret). The page always carries the theme in force as data-theme, so
// the stylesheet defines each theme once.
export type Theme = 'light' | 'dark' | 'system';
const key = 'crs-theme';
const dark = window.matchMedia('(prefers-color-scheme: dark)');

export function storedTheme(): Theme {
  const t = window.localStorage.getItem(key);
  return t === 'light' || t === 'dark' ? t : 'system';
}

function show(t: Theme) {
  document.documentElement.dataset.theme = t === 'system' ? (dark.matches ? 'dark' : 'light') : t;
}

export function applyTheme(t: Theme) {
  if (t === 'system') window.localStorage.removeItem(key);
  else window.localStorage.setItem(key, t);
  show(t);
}

// The system's theme changing while the page is open.
dark.addEventListener('change', () => show(storedTheme()));
