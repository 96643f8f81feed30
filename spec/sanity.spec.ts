import test from 'ava';
import {x} from '../lib/index.ts';
test('x', t => { t.is(x, 1); });
