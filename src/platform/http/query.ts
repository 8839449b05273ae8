import { Elysia } from 'elysia';

/**
 * An empty query value (`?country=&actor=`, what an HTML form or a URL template sends) means "not given":
 * it is dropped before validation, so optional filters stay optional and defaults apply. A route that wants
 * to reject an empty value sees it as missing and says that the parameter is required.
 */
export const emptyQueryAsAbsent = () =>
  new Elysia({ name: 'platform.empty-query' }).onTransform({ as: 'global' }, ({ query }) => {
    for (const key in query) if (query[key] === '') delete query[key];
  });
