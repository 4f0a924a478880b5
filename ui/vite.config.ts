import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The BFF serves dist/: hashed files under /assets/ are immutable, index.html is not.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: { "/api": { target: process.env.WFB_BFF_URL ?? "http://127.0.0.1:3000", changeOrigin: false } },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
