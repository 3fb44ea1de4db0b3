// dms3-smtp: the SMTP account (config node) shared by dms3-mail nodes. The password (and user) live in
// Node-RED's credentials, never in the flow. Each mail node makes its own transport from `settings`.
import { parseSmtpSettings, type SmtpAccount } from '../../lib/mail/smtp';
import type { Node, NodeAPI, NodeDef } from '../shared/red';

type SmtpConfigNode = Node & SmtpAccount;

export = function (RED: NodeAPI) {
  function SmtpNode(this: SmtpConfigNode, config: NodeDef) {
    RED.nodes.createNode(this, config);
    try {
      this.settings = parseSmtpSettings(config, this.credentials ?? {});
      this.problem = null;
    } catch (err) {
      this.settings = null;
      this.problem = (err as Error).message;
      this.error(`SMTP settings: ${this.problem}`);
    }
  }
  RED.nodes.registerType('dms3-smtp', SmtpNode as (this: Node, def: NodeDef) => void, {
    credentials: { user: { type: 'text' }, password: { type: 'password' } },
  });
};
