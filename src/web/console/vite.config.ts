import { defineConfig } from 'vite';

// The console is served by crs under /admin-next/ with a strict CSP (no inline script or
// style, nothing from another origin): no inlined assets, no preload polyfill.
export default defineConfig({
  base: '/admin-next/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    target: 'es2020',
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    cssCodeSplit: false,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
