// s3rver ships no types; test/helpers/s3.ts declares the subset it uses.
declare module 's3rver';
