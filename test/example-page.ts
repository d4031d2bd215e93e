import { fileURLToPath } from 'node:url';

/** The example page's folder, which `causeway serve` passes as ServerOptions.page. */
export const EXAMPLE_PAGE = fileURLToPath(new URL('../../examples/web/', import.meta.url));
