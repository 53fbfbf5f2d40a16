// Server rendering in plain Node: importing both entries touches no browser API, and
// renderToString gives the frame's container and nothing else. Prints the results as JSON.
import { createElement } from 'react';
import { renderToString } from 'react-dom/server';
import { EmbanEmbedFrame } from '@emban/embed-helper/react';
import { EmbanEmbed } from '@emban/embed-helper';

const out = {
  empty: renderToString(createElement(EmbanEmbedFrame, { embedUrl: null })),
  styled: renderToString(
    createElement(EmbanEmbedFrame, { embedUrl: process.argv[2], containerStyle: { minHeight: 600 }, className: 'a' }),
  ),
};
try {
  EmbanEmbed.mount('#x', { embedUrl: process.argv[2] });
  out.mount = 'mounted?';
} catch (e) {
  out.mount = e.message;
}
console.log(JSON.stringify(out));
