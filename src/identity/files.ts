/** File names inside an identity directory (a module of its own: the CLI names them cheaply). */
export const KEY_FILE = 'node.key';
export const CERT_FILE = 'node.crt';
