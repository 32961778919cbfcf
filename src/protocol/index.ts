export * from './errors.js';
export * from './frame.js';
export * from './messages.js';
export * from './names.js';
export * from './version.js';
