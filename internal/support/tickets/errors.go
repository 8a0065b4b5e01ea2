package tickets

import (
	"net/http"

	"okpay/internal/apperr"
)

// Error codes of the desk.
const (
	CodeAttachmentType     = "ticket_attachment_type"
	CodeAttachmentTooLarge = "ticket_attachment_too_large"
	CodeTooManyAttachments = "ticket_too_many_attachments"
	CodeAttachmentEmpty    = "ticket_attachment_empty"
	CodeTicketClosed       = "ticket_closed"
	CodeStatusChange       = "ticket_status_change"
	CodeCategoryInvalid    = "ticket_category_invalid"
	CodePriorityInvalid    = "ticket_priority_invalid"
	CodeTooLong            = "ticket_text_too_long"
	CodeAssigneeInvalid    = "ticket_assignee_invalid"
	CodeDiagnosisInvalid   = "ticket_diagnosis_invalid"
	CodeThreadFull         = "ticket_thread_full"
)

type txt = apperr.Text

func init() {
	apperr.Register(
		apperr.Def{Code: CodeAttachmentType, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This file is not a PNG, JPEG or PDF.", Zh: "该文件不是 PNG、JPEG 或 PDF。"},
			Fix:     txt{En: "Attach a screenshot (PNG or JPEG) or a PDF. Renaming a file does not change its type.", Zh: "请附上截图（PNG 或 JPEG）或 PDF 文件。修改文件扩展名不会改变文件类型。"}},
		apperr.Def{Code: CodeAttachmentTooLarge, Status: http.StatusRequestEntityTooLarge,
			Message: txt{En: "This file is larger than 5 MB.", Zh: "该文件超过 5 MB。"},
			Fix:     txt{En: "Attach a smaller file (up to 5 MB), for example a cropped screenshot.", Zh: "请附上更小的文件（不超过 5 MB），例如裁剪后的截图。"}},
		apperr.Def{Code: CodeTooManyAttachments, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "At most 5 files can be attached to one message.", Zh: "每条消息最多只能附加 5 个文件。"},
			Fix:     txt{En: "Choose the 5 most important files; you can send more in a follow-up message.", Zh: "请选择最重要的 5 个文件，其余的可以在后续消息中发送。"}},
		apperr.Def{Code: CodeAttachmentEmpty, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This file is empty.", Zh: "该文件为空。"},
			Fix:     txt{En: "Choose the file again; it may not have finished saving.", Zh: "请重新选择文件，它可能尚未保存完成。"}},
		apperr.Def{Code: CodeTicketClosed, Status: http.StatusConflict,
			Message: txt{En: "This ticket is closed.", Zh: "该工单已关闭。"},
			Fix:     txt{En: "Open a new ticket and mention {number} in it.", Zh: "请新建一个工单，并在其中注明 {number}。"}},
		apperr.Def{Code: CodeStatusChange, Status: http.StatusConflict,
			Message: txt{En: "A ticket cannot move from {from} to {to}.", Zh: "工单无法从 {from} 变为 {to}。"},
			Fix:     txt{En: "Reload the ticket to see its current status.", Zh: "请刷新工单查看其当前状态。"}},
		apperr.Def{Code: CodeCategoryInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Choose a category from the list.", Zh: "请从列表中选择一个类别。"}},
		apperr.Def{Code: CodePriorityInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Priority must be low, normal, high or urgent.", Zh: "优先级必须是 low、normal、high 或 urgent。"}},
		apperr.Def{Code: CodeTooLong, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "This text is too long.", Zh: "文字太长。"},
			Fix:     txt{En: "Shorten it; attach long logs as a PDF instead.", Zh: "请缩短内容；较长的记录可以作为 PDF 附件发送。"}},
		apperr.Def{Code: CodeAssigneeInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "Tickets can be assigned to support agents only.", Zh: "工单只能分配给客服人员。"}},
		apperr.Def{Code: CodeDiagnosisInvalid, Status: http.StatusUnprocessableEntity,
			Message: txt{En: "The diagnosis must be a JSON object of at most 64 KB.", Zh: "诊断信息必须是不超过 64 KB 的 JSON 对象。"}},
		apperr.Def{Code: CodeThreadFull, Status: http.StatusConflict,
			Message: txt{En: "This ticket has too many messages.", Zh: "该工单的消息过多。"},
			Fix:     txt{En: "Open a new ticket and mention {number} in it.", Zh: "请新建一个工单，并在其中注明 {number}。"}},
	)
}

func fieldErr(field, code string) *apperr.Error {
	return apperr.New(apperr.CodeValidation).Field(field, code)
}

func notFound() *apperr.Error { return apperr.New(apperr.CodeNotFound) }
