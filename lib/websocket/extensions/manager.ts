// Sec-WebSocket-Extensions: parsing (RFC 6455 §9.1, RFC 7230 §7) and negotiation as libsoup 3 does it.

import {WebsocketConnectionType} from '../constants.ts';
import {WebsocketError, WebsocketErrorCode, type WebsocketErrorReason} from '../errors.ts';
import {splitHeaderList, trimOws} from '../../http/headers.ts';
import {isToken} from '../validation.ts';
import type {WebsocketExtension, WebsocketExtensionClass} from './extension.ts';

/** One element of a `Sec-WebSocket-Extensions` list: an extension name and its parameters. */
export interface ExtensionOffer {
	/** The extension token, e.g. `permessage-deflate`. */
	readonly name: string;
	/** The parameters in order, a parameter without a value mapping to `null`; `null` when there are none. */
	readonly params: Map<string, string | null> | null;
}

/** Why an element of `Sec-WebSocket-Extensions` could not be parsed. */
export type ExtensionSyntaxProblem = 'empty-name' | 'malformed-params' | 'duplicate-param';

/**
 * A syntax error in `Sec-WebSocket-Extensions`, thrown by {@link parseExtensions}. The handshake
 * helpers turn it into the {@link WebsocketError} libsoup reports for the side that parses.
 */
export class ExtensionSyntaxError extends Error {
	override name = 'ExtensionSyntaxError';
	/** What is wrong. */
	readonly problem: ExtensionSyntaxProblem;
	/** The extension whose element is wrong (`''` for an element without a name). */
	readonly extension: string;

	constructor(problem: ExtensionSyntaxProblem, extension: string, message: string) {
		super(message);
		this.problem = problem;
		this.extension = extension;
	}
}

/**
 * Splits one list element into its extension name (the text before the first `;`, trimmed) and
 * the text of its parameters (after that `;`, or `null` when there is none).
 */
function splitElement(element: string): {name: string; paramText: string | null} {
	const semicolon = element.indexOf(';');
	if (semicolon === -1) {
		return {name: trimOws(element), paramText: null};
	}

	return {name: trimOws(element.slice(0, semicolon)), paramText: element.slice(semicolon + 1)};
}

/**
 * Reads an RFC 7230 §3.2.6 quoted-string that makes up all of `text`, or returns `null`.
 * A backslash escapes the next character (quoted-pair).
 */
function unquote(text: string): string | null {
	if (text.length < 2 || !text.startsWith('"') || !text.endsWith('"')) {
		return null;
	}

	let result = '';
	for (let i = 1; i < text.length - 1; i++) {
		const char = text[i];
		if (char === '\\') {
			i++;
			if (i >= text.length - 1) {
				// need a character to escape, but only the closing quote is left
				return null;
			}

			result += text[i];
		} else if (char === '"') {
			return null;
		} else {
			result += char;
		}
	}

	return result;
}

/**
 * Parses the parameters of one element (`; a=1; b; c="2"`) in libsoup's strict mode.
 *
 * RFC 6455 §9.1: `extension-param = token [ "=" (token | quoted-string) ]`, and a quoted value,
 * once unescaped, "MUST conform to the 'token' ABNF". Empty parameters (`;;`) are skipped as
 * empty list elements; spaces around `=` are tolerated. Names are compared case-insensitively
 * (ASCII) to find duplicates and kept as given.
 */
function parseParams(extension: string, paramText: string): Map<string, string | null> {
	const params = new Map<string, string | null>();
	const seen = new Set<string>();
	for (const param of splitHeaderList(paramText, ';')) {
		const equals = param.indexOf('=');
		const name = trimOws(equals === -1 ? param : param.slice(0, equals));
		if (!isToken(name)) {
			throw new ExtensionSyntaxError(
				'malformed-params',
				extension,
				`Invalid parameter ${JSON.stringify(name)} in ${JSON.stringify(extension)} extension`,
			);
		}

		let value: string | null = null;
		if (equals !== -1) {
			const raw = trimOws(param.slice(equals + 1));
			value = raw.startsWith('"') ? unquote(raw) : raw;
			if (value === null || !isToken(value)) {
				throw new ExtensionSyntaxError(
					'malformed-params',
					extension,
					`Invalid value of parameter ${JSON.stringify(name)} in ${JSON.stringify(extension)} extension`,
				);
			}
		}

		const key = name.toLowerCase();
		if (seen.has(key)) {
			throw new ExtensionSyntaxError(
				'duplicate-param',
				extension,
				`Duplicated parameter ${JSON.stringify(name)} in ${JSON.stringify(extension)} extension`,
			);
		}

		seen.add(key);
		params.set(name, value);
	}

	return params;
}

/**
 * Parses a whole `Sec-WebSocket-Extensions` value (joined over repeated headers).
 *
 * Grammar (RFC 6455 §9.1): a comma list of `name *( ";" param )`, a parameter being
 * `token [ "=" ( token / quoted-string ) ]`; quoted values are returned unescaped. Empty list
 * elements are ignored (RFC 7230 §7), as libsoup's list parser does. Extension names are
 * returned as written; the negotiation compares them case-sensitively.
 *
 * @param value - The header value.
 * @returns The elements in order. An element without parameters has `params: null`.
 * @throws {ExtensionSyntaxError} for an element with no name (`"; a=1"`), a malformed parameter,
 *   or a parameter given twice (compared case-insensitively).
 */
export function parseExtensions(value: string): ExtensionOffer[] {
	const offers: ExtensionOffer[] = [];
	for (const element of splitHeaderList(value)) {
		const {name, paramText} = splitElement(element);
		if (name === '') {
			throw new ExtensionSyntaxError('empty-name', '', `Extension without a name: ${JSON.stringify(element)}`);
		}

		offers.push({name, params: paramText === null ? null : parseParams(name, paramText)});
	}

	return offers;
}

/**
 * Formats the offer a client makes (`clientPrepareHandshake`): for each class, its name followed
 * by the request parameters of a fresh instance, joined with `", "`.
 *
 * @param supported - The extension classes to offer.
 * @returns The header value, or `null` when there is nothing to offer.
 */
export function formatExtensionOffer(supported: readonly WebsocketExtensionClass[]): string | null {
	const items = supported.map(extensionClass => {
		const params = new extensionClass().getRequestParams();
		return `${extensionClass.extensionName}${params ?? ''}`;
	});
	return items.length === 0 ? null : items.join(', ');
}

/**
 * Formats the extensions a server accepts (`serverProcessHandshake`): name and response
 * parameters of each, joined with `", "`.
 *
 * @param accepted - The configured extensions, in request order.
 * @returns The header value, or `null` when none was accepted.
 */
export function formatAcceptedExtensions(accepted: readonly WebsocketExtension[]): string | null {
	const items = accepted.map(extension => `${extension.name}${extension.getResponseParams() ?? ''}`);
	return items.length === 0 ? null : items.join(', ');
}

function badHandshake(reason: WebsocketErrorReason, message: string, cause?: unknown): WebsocketError {
	return new WebsocketError(
		WebsocketErrorCode.BAD_HANDSHAKE,
		reason,
		message,
		cause === undefined ? undefined : {cause},
	);
}

/**
 * Creates and configures an extension; an error that is not a {@link WebsocketError} (a bug in
 * the extension) becomes a `BAD_HANDSHAKE` one, so the handshake still fails cleanly.
 */
function configure(
	extensionClass: WebsocketExtensionClass,
	type: WebsocketConnectionType,
	params: Map<string, string | null> | null,
): WebsocketExtension {
	try {
		const extension = new extensionClass();
		extension.configure(type, params);
		return extension;
	} catch (error) {
		if (error instanceof WebsocketError) {
			throw error;
		}

		const detail = error instanceof Error ? error.message : String(error);
		throw badHandshake(
			'WS_ERR_INVALID_EXTENSION_HEADER',
			`Failed to configure “${extensionClass.extensionName}” WebSocket extension: ${detail}`,
			error,
		);
	}
}

function findClass(supported: readonly WebsocketExtensionClass[], name: string): WebsocketExtensionClass | undefined {
	return supported.find(extensionClass => extensionClass.extensionName === name);
}

/**
 * The server's side of the negotiation (libsoup's `process_extensions` in server mode), on the
 * request's `Sec-WebSocket-Extensions`.
 *
 * With no supported classes every offer is ignored. Otherwise each element, in request order:
 * an element without a name fails; an unknown name is skipped (a server ignores offers it does
 * not support); a later offer of an extension already accepted is skipped too (RFC 7692 §5:
 * repeated offers are alternatives, of which a server accepts one); duplicated or malformed
 * parameters fail; the extension is created and configured for the server side, and its error
 * fails the handshake. With `instantiate` false (check only), an element without parameters is
 * accepted without creating the extension.
 *
 * @param value - The request's header value.
 * @param supported - The classes the server supports.
 * @param instantiate - Whether to return configured extensions (process) or only check (check).
 * @returns The configured extensions in request order (empty when `instantiate` is false).
 * @throws {WebsocketError} `BAD_HANDSHAKE` with libsoup's server-side messages.
 */
export function negotiateServerExtensions(
	value: string,
	supported: readonly WebsocketExtensionClass[] | null | undefined,
	instantiate: boolean,
): WebsocketExtension[] {
	const accepted: WebsocketExtension[] = [];
	if (supported === null || supported === undefined || supported.length === 0) {
		return accepted;
	}

	const acceptedNames = new Set<string>();
	for (const element of splitHeaderList(value)) {
		const {name, paramText} = splitElement(element);
		if (name === '') {
			throw badHandshake('WS_ERR_INVALID_EXTENSION_HEADER', 'Incorrect WebSocket “Sec-WebSocket-Extensions” header');
		}

		const extensionClass = findClass(supported, name);
		if (extensionClass === undefined || acceptedNames.has(name)) {
			continue;
		}

		let params: Map<string, string | null> | null = null;
		if (paramText !== null) {
			try {
				params = parseParams(name, paramText);
			} catch (error) {
				if (error instanceof ExtensionSyntaxError && error.problem === 'duplicate-param') {
					throw badHandshake(
						'WS_ERR_INVALID_EXTENSION_HEADER',
						`Duplicated parameter in “${name}” WebSocket extension header`,
					);
				}

				throw badHandshake('WS_ERR_INVALID_EXTENSION_HEADER', 'Incorrect WebSocket “Sec-WebSocket-Extensions” header');
			}
		}

		acceptedNames.add(name);
		if (!instantiate && params === null) {
			continue;
		}

		const extension = configure(extensionClass, WebsocketConnectionType.SERVER, params);
		if (instantiate) {
			accepted.push(extension);
		}
	}

	return accepted;
}

/**
 * The client's side of the negotiation (libsoup's `process_extensions` in client mode), on the
 * response's `Sec-WebSocket-Extensions`.
 *
 * Each element, in response order: with no supported classes any named extension fails; an
 * element without a name fails; an extension that the request did not offer, that is not
 * supported, or that the response names twice fails; duplicated or malformed parameters fail;
 * the extension is created and configured for the client side, and its error fails the handshake.
 *
 * @param value - The response's header value.
 * @param offered - The request's `Sec-WebSocket-Extensions`, or `null` if it had none.
 * @param supported - The classes the client supports.
 * @returns The configured extensions in response order.
 * @throws {WebsocketError} `BAD_HANDSHAKE` with libsoup's client-side messages.
 */
export function negotiateClientExtensions(
	value: string,
	offered: string | null,
	supported: readonly WebsocketExtensionClass[] | null | undefined,
): WebsocketExtension[] {
	const elements = splitHeaderList(value);
	const accepted: WebsocketExtension[] = [];
	if (elements.length === 0) {
		return accepted;
	}

	const unsupported = (): WebsocketError =>
		badHandshake('WS_ERR_UNSUPPORTED_EXTENSION', 'Server requested unsupported extension');
	if (supported === null || supported === undefined || supported.length === 0) {
		throw unsupported();
	}

	const offeredNames = new Set(
		offered === null ? [] : splitHeaderList(offered).map(element => splitElement(element).name),
	);
	const acceptedNames = new Set<string>();
	for (const element of elements) {
		const {name, paramText} = splitElement(element);
		if (name === '') {
			throw badHandshake('WS_ERR_INVALID_EXTENSION_HEADER', 'Server returned incorrect “Sec-WebSocket-Extensions” key');
		}

		const extensionClass = findClass(supported, name);
		if (!offeredNames.has(name) || extensionClass === undefined || acceptedNames.has(name)) {
			throw unsupported();
		}

		let params: Map<string, string | null> | null = null;
		if (paramText !== null) {
			try {
				params = parseParams(name, paramText);
			} catch (error) {
				if (error instanceof ExtensionSyntaxError && error.problem === 'duplicate-param') {
					throw badHandshake(
						'WS_ERR_INVALID_EXTENSION_HEADER',
						`Server returned a duplicated parameter in “${name}” WebSocket extension header`,
					);
				}

				throw badHandshake('WS_ERR_INVALID_EXTENSION_HEADER', 'Server returned incorrect “Sec-WebSocket-Extensions” key');
			}
		}

		acceptedNames.add(name);
		accepted.push(configure(extensionClass, WebsocketConnectionType.CLIENT, params));
	}

	return accepted;
}
