// The reviewer UI's third-party code, bundled by esbuild into /ui/vendor.js and /ui/vendor.css
// when sluice-gateway is built (versions pinned in package-lock.json). app.js imports it.
import "asciinema-player/dist/bundle/asciinema-player.css";

export { create as createPlayer } from "asciinema-player";
export { stringify as toYaml } from "yaml";
