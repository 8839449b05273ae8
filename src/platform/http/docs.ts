import { swagger } from '@elysiajs/swagger';
import { Elysia } from 'elysia';
import { join } from 'node:path';
import { ROOT } from '../context.ts';

const dist = join(ROOT, 'node_modules/swagger-ui-dist');
const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>sillage API</title><link rel="stylesheet" href="/swagger/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/swagger/assets/swagger-ui-bundle.js"></script><script src="/swagger/assets/init.js"></script></body></html>`;
const init = `window.ui = SwaggerUIBundle({ url: '/swagger/json', dom_id: '#swagger-ui', deepLinking: true });`;

/**
 * OpenAPI document from the route schemas (@elysiajs/swagger) and a Swagger UI served from the local
 * swagger-ui-dist package: the plugin's own page loads the UI from a CDN, which an offline machine cannot reach.
 */
export const docs = () =>
  new Elysia({ name: 'platform.docs' })
    .use(
      swagger({
        path: '/swagger/plugin',
        specPath: '/swagger/json',
        exclude: ['/swagger', '/swagger/plugin', '/docs', /^\/swagger\/assets/, /^\/assets/, '/'],
        documentation: {
          info: { title: 'sillage', version: '0.1.0', description: 'REST→SQLite ETL, GDELT event lake, engagement pipeline and stream analytics in one Bun service.' },
          tags: [
            { name: 'platform', description: 'Health, metrics and docs' },
            { name: 'etl', description: 'REST → SQLite ETL' },
            { name: 'gdelt', description: 'GDELT event lake' },
            { name: 'engagement', description: 'Live engagement from Redis' },
            { name: 'warehouse', description: 'Warehouse views' },
            { name: 'streams', description: 'Windowed stream analytics' },
          ],
          components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API_KEY, when the server sets one' } } },
        },
      }),
    )
    .get('/swagger', () => new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } }), { detail: { hide: true } })
    .get('/swagger/assets/init.js', () => new Response(init, { headers: { 'content-type': 'text/javascript' } }), { detail: { hide: true } })
    .get('/swagger/assets/swagger-ui.css', () => new Response(Bun.file(join(dist, 'swagger-ui.css'))), { detail: { hide: true } })
    .get('/swagger/assets/swagger-ui-bundle.js', () => new Response(Bun.file(join(dist, 'swagger-ui-bundle.js'))), { detail: { hide: true } })
    .get('/docs', ({ redirect }) => redirect('/swagger', 302), { detail: { hide: true } });
