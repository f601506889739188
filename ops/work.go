package ops

import "github.com/rekey-dev/rekey"

// work does what an operation of op.Kind does when it is due. It runs
// inside the transaction that marks op Succeeded.
func work(tx rekey.Tx, op *rekey.Operation) error {
	switch op.Kind {
	case rekey.OpCreateEndpoint:
		e, err := endpointOf(tx, op)
		if err != nil {
			return err
		}
		if e.ProvisioningState == rekey.Deleting {
			return rekey.Errorf(rekey.Conflict, "The endpoint '%s' was deleted before its creation completed.", e.ID.Name)
		}
		e.ProvisioningState = rekey.Succeeded
		_, err = tx.PutEndpoint(e)
		return err
	case rekey.OpDeleteEndpoint:
		id, err := rekey.ParseEndpointID(op.Resource)
		if err != nil {
			return err
		}
		if err := tx.DeleteEndpoint(id); rekey.ErrorCode(err) != rekey.NotFound {
			return err // nil, or a real failure; already gone counts as done
		}
		return nil
	case rekey.OpRegenerateKeys:
		// The key changed when the request was accepted; the operation
		// only reports it, and fails if the endpoint vanished meanwhile.
		_, err := endpointOf(tx, op)
		return err
	case rekey.OpPutDeployment:
		id, err := rekey.ParseDeploymentID(op.Resource)
		if err != nil {
			return err
		}
		d, err := tx.Deployment(id)
		if rekey.ErrorCode(err) == rekey.NotFound {
			return rekey.Errorf(rekey.NotFound, "The deployment '%s' was deleted before the operation completed.", id.Name)
		}
		if err != nil {
			return err
		}
		if d.ProvisioningState == rekey.Deleting {
			return rekey.Errorf(rekey.Conflict, "The deployment '%s' was deleted before its creation completed.", id.Name)
		}
		d.ProvisioningState = rekey.Succeeded
		_, err = tx.PutDeployment(d)
		return err
	case rekey.OpCreateAccount:
		id, err := rekey.ParseAccountID(op.Resource)
		if err != nil {
			return err
		}
		acc, err := tx.Account(id)
		if rekey.ErrorCode(err) == rekey.NotFound {
			return rekey.Errorf(rekey.NotFound, "The account '%s' was deleted before its creation completed.", id.Name)
		}
		if err != nil {
			return err
		}
		acc.ProvisioningState, acc.ETag = rekey.Succeeded, `"`+rekey.NewGUID()+`"`
		_, err = tx.PutAccount(acc)
		return err
	case rekey.OpDeleteDeployment:
		id, err := rekey.ParseDeploymentID(op.Resource)
		if err != nil {
			return err
		}
		if err := tx.DeleteDeployment(id); rekey.ErrorCode(err) != rekey.NotFound {
			return err
		}
		return nil
	}
	return rekey.Errorf(rekey.Internal, "unknown operation kind %q", op.Kind)
}

func endpointOf(tx rekey.Tx, op *rekey.Operation) (*rekey.Endpoint, error) {
	id, err := rekey.ParseEndpointID(op.Resource)
	if err != nil {
		return nil, err
	}
	e, err := tx.Endpoint(id)
	if rekey.ErrorCode(err) == rekey.NotFound {
		return nil, rekey.Errorf(rekey.NotFound, "The endpoint '%s' was deleted before the operation completed.", id.Name)
	}
	return e, err
}
