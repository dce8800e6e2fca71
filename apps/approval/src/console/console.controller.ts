import { randomBytes } from 'node:crypto';
import { Controller, Get, Res } from '@nestjs/common';
import type { Response } from 'express';
import { consolePage } from './console.page';

/** `GET /`: the approval console (public: the page holds no data; the API calls it makes need a key). */
@Controller()
export class ConsoleController {
  @Get()
  page(@Res() res: Response): void {
    const nonce = randomBytes(16).toString('base64');
    res.setHeader('Content-Security-Policy', [
      "default-src 'none'", `script-src 'nonce-${nonce}'`, `style-src 'nonce-${nonce}'`, "connect-src 'self'",
      "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ].join('; '));
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(consolePage(nonce));
  }
}
