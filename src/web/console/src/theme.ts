// Light or dark: the system's choice unless the admin picked one (remembered in this browser;
// a preference, not a secret).
export type Theme = 'light' | 'dark' | 'system';
const key = 'crs-theme';

export function storedTheme(): Theme {
  const t = window.localStorage.getItem(key);
  return t === 'light' || t === 'dark' ? t : 'system';
}

export function applyTheme(t: Theme) {
  if (t === 'system') {
    window.localStorage.removeItem(key);
    delete document.documentElement.dataset.theme;
  } else {
    window.localStorage.setItem(key, t);
    document.documentElement.dataset.theme = t;
  }
}
