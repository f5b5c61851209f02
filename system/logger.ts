/** Structured logs (pino) with secrets redacted wherever they could appear. */
import { pino, type DestinationStream, type Logger } from 'pino';

export const REDACT_PATHS = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  '*.token',
  '*.botToken',
  '*.appToken',
  '*.signingSecret',
  'req.headers.authorization',
  'req.headers["x-slack-signature"]',
  'headers.authorization',
  'authorization',
  'password',
  '*.password',
  'secret',
  '*.secret',
];

export function createLogger(level = 'info', destination?: DestinationStream): Logger {
  return pino({ level, base: { service: 'kubecontrol' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
